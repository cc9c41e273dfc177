/**
 * The server side of one accepted connection: decides its protocol from the first bytes, then
 * cuts baidu_std frames, dispatches each request to its method, answers in any order (responses
 * carry the correlation id), and enforces the limits. Any violation of the framing closes this
 * connection and nothing else.
 *
 * A connection is cheap, because some clients (braft's counter_client among them) open one per
 * call: its listeners are set once at accept and never moved, the parser, writer, abort signal
 * and remote address exist only once something needs them, no timer is armed per connection
 * (IdleSweep closes idle ones), and the client's EOF closes the socket without a shutdown.
 * Nothing else keeps it: once closed, only the socket's own objects remain to be collected.
 */
import type { Socket } from "node:net";
import { decodeFrame, decompressMessage, encodeResponse, type DecodedFrame } from "./baidu-std.js";
import { CorkedWriter } from "./corked-writer.js";
import { FrameError, FrameParser, HEADER_BYTES, startsWithMagic } from "./frame.js";
import { ProtoParseError } from "./proto-util.js";
import { BrpcErrno, errorToWire } from "./rpc-errors.js";
import { ServerCall, type RawMethodHandler, type ServiceRegistry } from "./service-registry.js";
import type { RpcMetrics } from "../env/metrics.js";

/** The limits and hooks a connection runs with (resolved RaftServerOptions). */
export interface ConnectionConfig {
  readonly registry: ServiceRegistry;
  readonly maxBodyBytes: number;
  readonly maxInflight: number;
  readonly maxPendingWriteBytes: number;
  readonly onProtocolError: (err: Error, remoteAddress: string) => void;
  /** Counts this server's traffic and failed requests. */
  readonly metrics: RpcMetrics;
  /** The coarse clock a read stamps its connection with. */
  readonly idle: IdleSweep;
  /** Takes over a connection whose first bytes are HTTP (`head`: the bytes read so far). */
  readonly onHttp: (socket: Socket, head: Buffer) => void;
  /** Told once the socket has closed. */
  readonly onClosed: (connection: ServerConnection) => void;
}

/**
 * Idle connections without a timer each: the server ticks `now` every `timeoutMs / TICKS`; a
 * read stamps its connection with `now`, and a sweep closes a connection unstamped for TICKS
 * ticks with no call in flight, so an idle one closes between 1 and 1 + 1/TICKS timeouts.
 */
export class IdleSweep {
  static readonly TICKS = 4;
  now = 0;
}

/** HTTP methods brpc recognizes, by their first four bytes. */
const HTTP_PREFIXES = ["GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "TRAC", "CONN"];

type Mode = "sniffing" | "baidu_std" | "handed-over" | "closing";

// One function per event for every connection, found through the socket (no closures per accept).
const CONNECTION = Symbol("tsraft.serverConnection");
type ServedSocket = Socket & { [CONNECTION]: ServerConnection };
const connectionOf = (socket: Socket): ServerConnection => (socket as ServedSocket)[CONNECTION];
function onSocketData(this: Socket, chunk: Buffer): void {
  connectionOf(this).onData(chunk);
}
function onSocketEnd(this: Socket): void {
  connectionOf(this).onEnd();
}
function onSocketClose(this: Socket): void {
  connectionOf(this).onClose();
}
function onSocketDrain(this: Socket): void {
  this.resume();
}
function ignoreError(): void {
  // 'close' follows every error; nothing else to clean up.
}

/** Serves one accepted connection. */
export class ServerConnection {
  private mode: Mode = "sniffing";
  private head: Buffer | undefined;
  private parser: FrameParser | undefined;
  private writer: CorkedWriter | undefined;
  private aborter: AbortController | undefined;
  private address: string | undefined;
  private inflight = 0;
  private lastRead: number;
  private drainListened = false;

  constructor(
    readonly socket: Socket,
    private readonly config: ConnectionConfig,
  ) {
    this.lastRead = config.idle.now;
    (socket as ServedSocket)[CONNECTION] = this;
    socket.on("data", onSocketData);
    socket.on("end", onSocketEnd);
    socket.on("close", onSocketClose);
    socket.on("error", ignoreError);
  }

  /** `ip:port` of the client, read from the socket the first time it is asked for. */
  get remoteAddress(): string {
    return (this.address ??= `${this.socket.remoteAddress ?? "?"}:${this.socket.remotePort ?? 0}`);
  }

  /** Aborted when the connection closes; created the first time a handler asks for it. */
  get signal(): AbortSignal {
    this.aborter ??= new AbortController();
    if (this.socket.destroyed) this.aborter.abort(new Error("connection closed"));
    return this.aborter.signal;
  }

  /** Closes the connection if nothing was read for a whole idle timeout and nothing is in flight. */
  sweepIfIdle(now: number): void {
    if (this.mode === "handed-over") return; // node:http keeps its own timeouts
    if (this.inflight > 0) this.lastRead = now;
    else if (now - this.lastRead > IdleSweep.TICKS) this.socket.destroy();
  }

  /** @internal */
  onData(chunk: Buffer): void {
    this.lastRead = this.config.idle.now;
    if (this.mode !== "baidu_std") {
      const head = this.sniff(chunk);
      if (head === undefined) return;
      chunk = head;
    }
    this.config.metrics.server.bytesIn += chunk.length;
    try {
      for (const raw of (this.parser as FrameParser).push(chunk)) this.onFrame(decodeFrame(raw));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /**
   * Reads until four bytes decide the protocol. Returns the bytes to parse as baidu_std, or
   * undefined when there are none (more bytes needed, or the connection went elsewhere).
   */
  private sniff(chunk: Buffer): Buffer | undefined {
    if (this.mode !== "sniffing") return undefined; // closing: ignore what follows
    const head = this.head === undefined ? chunk : Buffer.concat([this.head, chunk]);
    if (head.length < 4) {
      this.head = head;
      return undefined;
    }
    this.head = undefined;
    if (startsWithMagic(head)) {
      this.mode = "baidu_std";
      this.parser = new FrameParser(this.config.maxBodyBytes);
      return head;
    }
    if (HTTP_PREFIXES.includes(head.subarray(0, 4).toString("latin1"))) {
      this.handOverToHttp(head);
    } else {
      this.fail(new Error(`unknown protocol (first bytes ${head.subarray(0, 4).toString("hex")})`));
    }
    return undefined;
  }

  private handOverToHttp(head: Buffer): void {
    this.mode = "handed-over";
    const socket = this.socket;
    socket.pause();
    socket.off("data", onSocketData);
    socket.off("end", onSocketEnd);
    this.config.onHttp(socket, head);
  }

  /**
   * The client closed its side: the connection is done, as brpc treats it. It closes at once
   * (no shutdown: nobody reads a FIN from a client that is gone), after handing over answers
   * already written; calls still in flight are dropped and their signal is aborted.
   */
  onEnd(): void {
    if (this.mode === "closing") return;
    this.mode = "closing";
    this.closeAfterWrites();
  }

  private closeAfterWrites(): void {
    const socket = this.socket;
    if (socket.writableLength === 0) socket.destroy();
    else socket.end();
  }

  /** @internal */
  onClose(): void {
    this.aborter?.abort(new Error("connection closed"));
    this.config.onClosed(this);
  }

  private fail(err: Error): void {
    this.mode = "closing";
    this.config.onProtocolError(err, this.remoteAddress);
    this.socket.destroy();
  }

  private onFrame(frame: DecodedFrame): void {
    const request = frame.meta.request;
    if (request === undefined) {
      throw new FrameError("bad-meta", "frame sent to a server has no request meta");
    }
    const correlationId = frame.meta.correlationId;
    if (this.inflight >= this.config.maxInflight) {
      const text = `Reached the limit of ${this.config.maxInflight} requests in flight per connection`;
      this.respondError(correlationId, BrpcErrno.ELIMIT, text);
      return;
    }
    if (frame.badAttachmentSize) {
      const text = `attachment_size=${frame.meta.attachmentSize} is larger than the request body`;
      this.respondError(correlationId, BrpcErrno.EREQUEST, text);
      return;
    }
    const found = this.config.registry.lookup(request.serviceName, request.methodName);
    if ("missing" in found) {
      if (found.missing === "service")
        this.respondError(correlationId, BrpcErrno.ENOSERVICE, `Fail to find service=${request.serviceName}`);
      else
        this.respondError(
          correlationId,
          BrpcErrno.ENOMETHOD,
          `Fail to find method=${request.methodName} in ${request.serviceName}`,
        );
      return;
    }
    let message: Uint8Array;
    try {
      message = decompressMessage(frame.message, frame.meta.compressType, this.config.maxBodyBytes);
    } catch (err) {
      this.config.metrics.serverError(request.serviceName, request.methodName);
      const text = `Fail to parse request message: ${(err as Error).message}`;
      this.respondError(correlationId, BrpcErrno.EREQUEST, text);
      return;
    }
    const call = new ServerCall(this, correlationId, request, frame.attachment);
    this.run(call, found.handler, message);
  }

  private run(call: ServerCall, handler: RawMethodHandler, message: Uint8Array): void {
    this.inflight++;
    // The handler runs at once, while its frame is read: no promise and no microtask per request
    // on the way in (the raft handlers only queue work for a drive that runs after the read), and
    // a synchronous answer is written at once. A handler that throws is still one failed call.
    let result: Promise<Uint8Array> | Uint8Array;
    try {
      result = handler(message, call);
    } catch (err) {
      this.settle(call, undefined, err);
      return;
    }
    if (result instanceof Uint8Array) {
      this.settle(call, result, undefined);
      return;
    }
    Promise.resolve(result).then(
      (response) => this.settle(call, response, undefined),
      (err: unknown) => this.settle(call, undefined, err),
    );
  }

  /** Answers one call with its response, or with `err` when the handler failed. */
  private settle(call: ServerCall, response: Uint8Array | undefined, err: unknown): void {
    this.inflight--;
    if (this.mode === "closing") return; // nobody to answer
    try {
      if (response !== undefined) this.respond(call, response);
      else this.respondFailure(call, err);
    } catch (failure) {
      this.fail(failure as Error);
    }
  }

  private respondFailure(call: ServerCall, err: unknown): void {
    this.config.metrics.serverError(call.service, call.method);
    if (err instanceof ProtoParseError) {
      this.respondError(
        call.correlationId,
        BrpcErrno.EREQUEST,
        `Fail to parse request message: ${err.message}`,
      );
    } else {
      const { code, text, userFields } = errorToWire(err);
      this.respondError(call.correlationId, code, text, userFields);
    }
  }

  private respond(call: ServerCall, message: Uint8Array): void {
    const correlationId = call.correlationId;
    const parts = encodeResponse({ correlationId, message, attachment: call.responseAttachment });
    let bodyBytes = -HEADER_BYTES;
    for (const part of parts) bodyBytes += part.length;
    if (bodyBytes > this.config.maxBodyBytes) {
      // Sent anyway, the client would have to close the connection and fail every other call.
      const text = `response of ${bodyBytes} bytes exceeds the maximum of ${this.config.maxBodyBytes}`;
      this.respondError(correlationId, BrpcErrno.EINTERNAL, text);
      return;
    }
    this.send(parts);
  }

  private respondError(
    correlationId: bigint,
    errorCode: number,
    errorText: string,
    userFields?: ReadonlyMap<string, string>,
  ): void {
    // brpc maps -1 (an unset failure) to EINTERNAL; 0 would read as success.
    const code = errorCode === 0 || errorCode === -1 ? BrpcErrno.EINTERNAL : errorCode;
    this.send(encodeResponse({ correlationId, errorCode: code, errorText, userFields }));
  }

  private send(parts: Uint8Array[]): void {
    const writer = (this.writer ??= new CorkedWriter(this.socket, this.config.metrics.server));
    writer.write(parts);
    // A client that stops reading its answers stops being read: buffered bytes stay bounded.
    if (writer.pendingBytes > this.config.maxPendingWriteBytes) this.pauseUntilDrained();
  }

  private pauseUntilDrained(): void {
    if (!this.drainListened) {
      this.drainListened = true;
      this.socket.on("drain", onSocketDrain);
    }
    this.socket.pause();
  }
}
