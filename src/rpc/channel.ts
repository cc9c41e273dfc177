/**
 * A channel: the one connection to a remote endpoint, shared by every group and caller
 * (brpc's SINGLE connection type). Calls are multiplexed by correlation id; each has its own
 * timeout. A lost connection fails its in-flight calls at once with EHOSTUNREACH; the next call
 * reconnects, after a backoff if connecting failed.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { RaftError } from "../core/errors.js";
import {
  decodeFrame,
  decompressMessage,
  encodeRequest,
  type Attachment,
  type DecodedFrame,
} from "./baidu-std.js";
import { CorkedWriter } from "./corked-writer.js";
import { DEFAULT_MAX_BODY_BYTES, FrameParser } from "./frame.js";
import { RpcDefaults, type ChannelOptions } from "./options.js";
import { splitEndpoint } from "../util/peer-text.js";
import { errorFromWire, transportError } from "./rpc-errors.js";
import { globalLogger, isEnabled, type Logger } from "../env/logger.js";
import { noopRpcMetrics, type RpcMetrics, type TrafficCounter } from "../env/metrics.js";

/** Where a channel reports: its server's metrics and logger (RPC failures and reconnects at debug). */
export interface ChannelObservers {
  readonly metrics?: RpcMetrics | undefined;
  readonly logger?: Logger | undefined;
}

/** What a successful call returns: the response message and its attachment, both undecoded. */
export interface CallResult {
  readonly message: Uint8Array;
  readonly attachment: Uint8Array;
}

/** One call. A `timeoutMs` <= 0 or not finite waits forever (braft's install_snapshot). */
export interface CallOptions {
  readonly timeoutMs: number;
  readonly attachment?: Attachment | undefined;
  readonly logId?: bigint | undefined;
  readonly signal?: AbortSignal | undefined;
}

interface PendingCall {
  readonly resolve: (result: CallResult) => void;
  readonly reject: (err: RaftError) => void;
  readonly what: string;
  readonly service: string;
  readonly method: string;
  timer: NodeJS.Timeout | undefined;
  detachSignal: (() => void) | undefined;
}

type State = "idle" | "connecting" | "connected" | "closed";

/**
 * A call refused before any byte of it was written: it cannot have reached the server, so a
 * client may send it again whatever it does (docs/errors.md).
 */
const NOT_SENT = { outcome: "refused" } as const;

/** The multiplexed connection to one remote endpoint. */
export class Channel {
  private state: State = "idle";
  private socket: Socket | undefined;
  private writer: CorkedWriter | undefined;
  private readonly pending = new Map<number, PendingCall>();
  private nextCorrelationId = 1;
  private failedConnects = 0;
  private retryAtMs = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly metrics: RpcMetrics;
  private readonly traffic: TrafficCounter;
  private readonly logger: Logger;

  /** @param endpoint the peer's `ip:port`, as its PeerIds name it. */
  constructor(
    readonly endpoint: string,
    private readonly options: ChannelOptions = {},
    observers: ChannelObservers = {},
  ) {
    this.metrics = observers.metrics ?? noopRpcMetrics;
    this.traffic = this.metrics.channel(endpoint);
    this.logger = observers.logger ?? globalLogger;
  }

  /** Calls in flight. */
  get inflight(): number {
    return this.pending.size;
  }

  /** True while a connection is up. */
  get connected(): boolean {
    return this.state === "connected";
  }

  /** Sends one request; resolves with the response or rejects with a RaftError. */
  call(service: string, method: string, message: Uint8Array, options: CallOptions): Promise<CallResult> {
    return new Promise<CallResult>((resolve, reject) => {
      const what = `${service}.${method} to ${this.endpoint}`;
      const refused = this.refusal(what, message, options.attachment);
      if (refused !== undefined) {
        this.metrics.clientError(service, method, refused.code);
        reject(refused);
        return;
      }
      const id = this.nextCorrelationId++;
      const call: PendingCall = {
        resolve,
        reject,
        what,
        service,
        method,
        timer: undefined,
        detachSignal: undefined,
      };
      this.pending.set(id, call);
      this.armTimeout(id, call, options.timeoutMs);
      this.watchSignal(id, call, options.signal);
      const { timeoutMs } = options;
      (this.writer as CorkedWriter).write(
        encodeRequest({
          service,
          method,
          correlationId: BigInt(id),
          message,
          attachment: options.attachment,
          logId: options.logId,
          timeoutMs: timeoutMs > 0 && Number.isFinite(timeoutMs) ? timeoutMs : undefined,
        }),
      );
    });
  }

  /** Closes the connection for good; in-flight and later calls fail with ESHUTDOWN. */
  close(): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.teardown(new RaftError("ESHUTDOWN", `channel to ${this.endpoint} closed`));
  }

  /** Why a call cannot be sent now, or undefined after making sure a connection exists. */
  private refusal(
    what: string,
    message: Uint8Array,
    attachment: Attachment | undefined,
  ): RaftError | undefined {
    if (this.state === "closed") return new RaftError("ESHUTDOWN", `${what}: channel closed`, NOT_SENT);
    const bodyBytes = message.length + attachmentBytes(attachment);
    const maxBodyBytes = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (bodyBytes > maxBodyBytes) {
      return new RaftError(
        "EINVAL",
        `${what}: request of ${bodyBytes} bytes exceeds ${maxBodyBytes}`,
        NOT_SENT,
      );
    }
    if (this.state === "idle") {
      const waitMs = this.retryAtMs - performance.now();
      if (waitMs > 0) {
        return RaftError.withoutStack(
          "EHOSTUNREACH",
          `${what}: not connected, next attempt in ${Math.ceil(waitMs)} ms`,
          NOT_SENT,
        );
      }
      const failed = this.tryOpen(what);
      if (failed !== undefined) return failed.withOutcome("refused");
    }
    const limit = this.options.maxPendingWriteBytes ?? RpcDefaults.maxPendingWriteBytes;
    if ((this.writer as CorkedWriter).pendingBytes > limit) {
      return new RaftError(
        "EBUSY",
        `${what}: over ${limit} bytes wait to be written (overcrowded)`,
        NOT_SENT,
      );
    }
    return undefined;
  }

  /** Opens a connection; a bad address or bad TLS material refuses the call instead of throwing. */
  private tryOpen(what: string): RaftError | undefined {
    try {
      this.open();
      return undefined;
    } catch (err) {
      if (RaftError.is(err)) return err;
      return new RaftError("EINVAL", `${what}: cannot connect: ${(err as Error).message}`, { cause: err });
    }
  }

  private open(): void {
    const resolved = this.options.resolveAddress?.(this.endpoint) ?? this.endpoint;
    if (this.failedConnects > 0 && isEnabled(this.logger, "debug")) {
      this.logger.debug("reconnecting", { endpoint: this.endpoint, failedConnects: this.failedConnects });
    }
    const { host, port } = splitEndpoint(resolved);
    const tls = this.options.tls;
    const socket = tls
      ? tlsConnect({
          host,
          port,
          key: tls.key,
          cert: tls.cert,
          ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | (string | Buffer)[] }),
          ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
          ...(tls.checkServerName === false ? { checkServerIdentity: () => undefined } : {}),
        })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.writer = new CorkedWriter(socket, this.traffic);
    this.state = "connecting";
    const parser = new FrameParser(this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    const connectTimeoutMs = this.options.connectTimeoutMs ?? RpcDefaults.connectTimeoutMs;
    this.connectTimer = setTimeout(() => {
      socket.destroy(new Error(`connect timed out after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    socket.once(tls ? "secureConnect" : "connect", () => this.onConnected(socket));
    socket.on("data", (chunk: Buffer) => this.onData(socket, parser, chunk));
    socket.on("error", () => undefined); // 'close' follows with the reason recorded below.
    socket.on("close", () => this.onClosed(socket));
  }

  private onConnected(socket: Socket): void {
    if (socket !== this.socket) return;
    clearTimeout(this.connectTimer);
    this.state = "connected";
    this.failedConnects = 0;
  }

  private onData(socket: Socket, parser: FrameParser, chunk: Buffer): void {
    if (socket !== this.socket) return;
    this.traffic.bytesIn += chunk.length;
    try {
      for (const raw of parser.push(chunk)) this.onResponse(decodeFrame(raw));
    } catch (err) {
      socket.destroy(err as Error);
    }
  }

  private onResponse(frame: DecodedFrame): void {
    const id = Number(frame.meta.correlationId);
    const call = this.pending.get(id);
    if (call === undefined) return; // Timed out or aborted already: a late answer is dropped.
    this.settle(id, call);
    const errorCode = frame.meta.response?.errorCode ?? 0;
    if (errorCode !== 0) {
      const text = frame.meta.response?.errorText ?? "";
      this.failCall(call, errorFromWire(errorCode, text, frame.meta.userFields));
    } else if (frame.badAttachmentSize) {
      this.failCall(call, new RaftError("EIO", `${call.what}: response attachment_size exceeds its body`));
    } else {
      this.resolveDecompressed(call, frame);
    }
  }

  private resolveDecompressed(call: PendingCall, frame: DecodedFrame): void {
    try {
      const maxBodyBytes = this.options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      const message = decompressMessage(frame.message, frame.meta.compressType, maxBodyBytes);
      call.resolve({ message, attachment: frame.attachment });
    } catch (err) {
      this.failCall(call, transportError("EIO", `${call.what}: ${(err as Error).message}`, err));
    }
  }

  private onClosed(socket: Socket): void {
    if (socket !== this.socket) return;
    const reason = (socket as Socket & { errored?: Error | null }).errored;
    const wasConnected = this.state === "connected";
    if (this.state !== "closed") this.state = "idle";
    if (!wasConnected && this.state === "idle") this.scheduleRetry();
    const detail = reason ? `: ${reason.message}` : "";
    if (this.state !== "closed" && isEnabled(this.logger, "debug")) {
      this.logger.debug(wasConnected ? "connection lost" : "connect failed", {
        endpoint: this.endpoint,
        error: reason?.message,
        failedCalls: this.pending.size,
      });
    }
    // A connection that never opened delivered nothing: its calls were certainly not sent.
    this.teardown(
      new RaftError(
        "EHOSTUNREACH",
        `connection to ${this.endpoint} ${wasConnected ? "lost" : "failed"}${detail}`,
        {
          ...(reason ? { cause: reason } : {}),
          outcome: wasConnected ? "unknown" : "refused",
        },
      ),
    );
  }

  /** Exponential backoff with jitter after failed connects, so a dead peer costs little. */
  private scheduleRetry(): void {
    this.failedConnects++;
    const min = this.options.reconnectBackoffMinMs ?? RpcDefaults.reconnectBackoffMinMs;
    const max = this.options.reconnectBackoffMaxMs ?? RpcDefaults.reconnectBackoffMaxMs;
    const backoffMs = Math.min(max, min * 2 ** Math.min(this.failedConnects - 1, 20));
    this.retryAtMs = performance.now() + backoffMs * (0.5 + Math.random() / 2);
  }

  private teardown(err: RaftError): void {
    clearTimeout(this.connectTimer);
    const socket = this.socket;
    this.socket = undefined;
    this.writer = undefined;
    socket?.destroy();
    const calls = [...this.pending.entries()];
    this.pending.clear();
    // One error per call, to name it; a connection lost under load fails thousands at once, and
    // their stacks would all be this one.
    for (const [id, call] of calls) {
      this.settle(id, call);
      const details = { cause: err.cause, outcome: err.outcome };
      this.failCall(call, RaftError.withoutStack(err.code, `${call.what}: ${err.message}`, details));
    }
  }

  private armTimeout(id: number, call: PendingCall, timeoutMs: number): void {
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return;
    call.timer = setTimeout(() => {
      if (this.pending.get(id) !== call) return;
      this.settle(id, call);
      this.failCall(call, new RaftError("ERAFTTIMEDOUT", `${call.what} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  }

  private watchSignal(id: number, call: PendingCall, signal: AbortSignal | undefined): void {
    if (signal === undefined) return;
    const onAbort = (): void => {
      if (this.pending.get(id) !== call) return;
      this.settle(id, call);
      this.failCall(call, new RaftError("ECANCELED", `${call.what} aborted`, { cause: signal.reason }));
    };
    if (signal.aborted) {
      queueMicrotask(onAbort);
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    call.detachSignal = () => signal.removeEventListener("abort", onAbort);
  }

  /** Rejects a call, counting the failure by method and code. */
  private failCall(call: PendingCall, err: RaftError): void {
    this.metrics.clientError(call.service, call.method, err.code);
    call.reject(err);
  }

  /** Forgets a call before it is resolved or rejected. */
  private settle(id: number, call: PendingCall): void {
    this.pending.delete(id);
    clearTimeout(call.timer);
    call.detachSignal?.();
  }
}

function attachmentBytes(attachment: Attachment | undefined): number {
  if (attachment === undefined) return 0;
  if (attachment instanceof Uint8Array) return attachment.length;
  let total = 0;
  for (const part of attachment) total += part.length;
  return total;
}
