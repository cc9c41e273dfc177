/**
 * The server side of one baidu_std connection: cuts frames, dispatches each request to its
 * method, answers in any order (responses carry the correlation id), and enforces the limits.
 * Any violation of the framing closes this connection and nothing else.
 */
import type { Socket } from "node:net";
import { decodeFrame, decompressMessage, encodeResponse, type DecodedFrame } from "./baidu-std.js";
import { CorkedWriter } from "./corked-writer.js";
import { FrameError, FrameParser, HEADER_BYTES } from "./frame.js";
import { ProtoParseError } from "./proto-util.js";
import { BrpcErrno, errorToWire } from "./rpc-errors.js";
import type { CallContext, ServiceRegistry } from "./service-registry.js";
import type { RpcMetrics } from "../env/metrics.js";

/** The limits and hooks a connection runs with (resolved RaftServerOptions). */
export interface ConnectionConfig {
  readonly registry: ServiceRegistry;
  readonly maxBodyBytes: number;
  readonly maxInflight: number;
  readonly idleTimeoutMs: number;
  readonly maxPendingWriteBytes: number;
  readonly onProtocolError: (err: Error, remoteAddress: string) => void;
  /** Counts this server's traffic and failed requests. */
  readonly metrics: RpcMetrics;
}

/** Serves baidu_std requests on one accepted connection. */
export class ServerConnection {
  private readonly parser: FrameParser;
  private readonly writer: CorkedWriter;
  private readonly aborter = new AbortController();
  private readonly remoteAddress: string;
  private inflight = 0;

  constructor(
    private readonly socket: Socket,
    private readonly config: ConnectionConfig,
  ) {
    this.parser = new FrameParser(config.maxBodyBytes);
    this.writer = new CorkedWriter(socket, config.metrics.server);
    this.remoteAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
  }

  /** Starts serving; `initial` holds the bytes read while sniffing the protocol. */
  start(initial: Buffer): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("close", () => this.aborter.abort(new Error("connection closed")));
    socket.on("drain", () => socket.resume());
    if (this.config.idleTimeoutMs > 0) {
      socket.setTimeout(this.config.idleTimeoutMs, () => {
        if (this.inflight === 0) socket.destroy();
      });
    }
    this.onData(initial);
    socket.resume();
  }

  private onData(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    this.config.metrics.server.bytesIn += chunk.length;
    try {
      for (const raw of this.parser.push(chunk)) this.onFrame(decodeFrame(raw));
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private fail(err: Error): void {
    this.config.onProtocolError(err, this.remoteAddress);
    this.socket.destroy();
  }

  private onFrame(frame: DecodedFrame): void {
    const request = frame.meta.request;
    if (request === undefined) {
      throw new FrameError("bad-meta", "frame sent to a server has no request meta");
    }
    const correlationId = frame.meta.correlationId;
    const refuse = (code: number, text: string): void => this.respondError(correlationId, code, text);
    if (this.inflight >= this.config.maxInflight) {
      refuse(
        BrpcErrno.ELIMIT,
        `Reached the limit of ${this.config.maxInflight} requests in flight per connection`,
      );
      return;
    }
    if (frame.badAttachmentSize) {
      refuse(
        BrpcErrno.EREQUEST,
        `attachment_size=${frame.meta.attachmentSize} is larger than the request body`,
      );
      return;
    }
    const found = this.config.registry.lookup(request.serviceName, request.methodName);
    if ("missing" in found) {
      if (found.missing === "service")
        refuse(BrpcErrno.ENOSERVICE, `Fail to find service=${request.serviceName}`);
      else refuse(BrpcErrno.ENOMETHOD, `Fail to find method=${request.methodName} in ${request.serviceName}`);
      return;
    }
    let message: Uint8Array;
    try {
      message = decompressMessage(frame.message, frame.meta.compressType, this.config.maxBodyBytes);
    } catch (err) {
      this.config.metrics.serverError(request.serviceName, request.methodName);
      refuse(BrpcErrno.EREQUEST, `Fail to parse request message: ${(err as Error).message}`);
      return;
    }
    const ctx: CallContext = {
      service: request.serviceName,
      method: request.methodName,
      remoteAddress: this.remoteAddress,
      requestAttachment: frame.attachment,
      responseAttachment: undefined,
      logId: request.logId === 0n ? undefined : request.logId,
      signal: this.aborter.signal,
    };
    this.run(correlationId, found.handler, message, ctx);
  }

  private run(
    correlationId: bigint,
    handler: (message: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array,
    message: Uint8Array,
    ctx: CallContext,
  ): void {
    this.inflight++;
    // The handler runs at once, while its frame is read: no promise and no microtask per request
    // on the way in (the raft handlers only queue work for a drive that runs after the read), and
    // a synchronous answer is written at once. A handler that throws is still one failed call.
    let result: Promise<Uint8Array> | Uint8Array;
    try {
      result = handler(message, ctx);
    } catch (err) {
      this.settle(correlationId, ctx, undefined, err);
      return;
    }
    if (result instanceof Uint8Array) {
      this.settle(correlationId, ctx, result, undefined);
      return;
    }
    Promise.resolve(result).then(
      (response) => this.settle(correlationId, ctx, response, undefined),
      (err: unknown) => this.settle(correlationId, ctx, undefined, err),
    );
  }

  /** Answers one call with its response, or with `err` when the handler failed. */
  private settle(
    correlationId: bigint,
    ctx: CallContext,
    response: Uint8Array | undefined,
    err: unknown,
  ): void {
    this.inflight--;
    try {
      if (response !== undefined) this.respond(correlationId, response, ctx);
      else this.respondFailure(correlationId, ctx, err);
    } catch (failure) {
      this.fail(failure as Error);
    }
  }

  private respondFailure(correlationId: bigint, ctx: CallContext, err: unknown): void {
    this.config.metrics.serverError(ctx.service, ctx.method);
    if (err instanceof ProtoParseError) {
      this.respondError(correlationId, BrpcErrno.EREQUEST, `Fail to parse request message: ${err.message}`);
    } else {
      const { code, text, userFields } = errorToWire(err);
      this.respondError(correlationId, code, text, userFields);
    }
  }

  private respond(correlationId: bigint, message: Uint8Array, ctx: CallContext): void {
    const parts = encodeResponse({ correlationId, message, attachment: ctx.responseAttachment });
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
    this.writer.write(parts);
    // A client that stops reading its answers stops being read: buffered bytes stay bounded.
    if (this.writer.pendingBytes > this.config.maxPendingWriteBytes) this.socket.pause();
  }
}
