/**
 * A lean baidu_std channel for the load client: one connection, any number of calls in flight,
 * and as little work per call as the protocol allows. The RpcMeta of each method is encoded once;
 * a call appends only its correlation id, and the frames of all calls issued in one turn of the
 * event loop leave in one socket write. Replies are matched by correlation id; timeouts are found
 * by one sweep timer instead of a timer per call. (The library's Channel does more per call:
 * attachments, compression, TLS, per-call timers; the raft traffic needs that, a load generator
 * measuring servers does not.)
 */
import { connect, type Socket } from "node:net";

/** Why a call failed: no reply in time, the connection failed, or the server answered an error. */
export class CallError extends Error {
  constructor(
    readonly kind: "timeout" | "connection" | "rpc",
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  readonly resolve: (message: Uint8Array) => void;
  readonly reject: (error: CallError) => void;
  readonly deadlineMs: number;
}

const MAGIC = Uint8Array.of(0x50, 0x52, 0x50, 0x43); // "PRPC"
/** Frames wait in one buffer until the turn ends; this is its first size. */
const BATCH_BYTES_MIN = 16 * 1024;

/** RpcMeta field 1 (RpcRequestMeta{service_name, method_name}): what every call of a method sends. */
export function requestMetaPrefix(service: string, method: string): Uint8Array {
  const text = new TextEncoder();
  const serviceBytes = text.encode(service);
  const methodBytes = text.encode(method);
  const inner = [
    0x0a,
    ...varint(serviceBytes.length),
    ...serviceBytes,
    0x12,
    ...varint(methodBytes.length),
    ...methodBytes,
  ];
  return Uint8Array.from([0x0a, ...varint(inner.length), ...inner]);
}

function varint(value: number): number[] {
  const bytes: number[] = [];
  while (value >= 0x80) {
    bytes.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  bytes.push(value);
  return bytes;
}

export class PipelinedChannel {
  private socket: Socket | undefined;
  private parser = new ReplySplitter();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private batch = Buffer.allocUnsafe(BATCH_BYTES_MIN);
  private batchBytes = 0;
  private flushQueued = false;
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  /** @param endpoint `ip:port` */
  constructor(
    readonly endpoint: string,
    private readonly timeoutMs: number,
  ) {}

  /** Calls the method whose meta is `prefix` with the serialized `message`; resolves with the reply's message. */
  call(prefix: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new CallError("connection", `channel to ${this.endpoint} closed`));
        return;
      }
      this.socket ??= this.open();
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject, deadlineMs: performance.now() + this.timeoutMs });
      this.append(prefix, id, message);
    });
  }

  /** Fails the calls in flight and closes the connection for good. */
  close(): void {
    this.closed = true;
    this.socket?.destroy();
    this.fail(new CallError("connection", `channel to ${this.endpoint} closed`));
  }

  private open(): Socket {
    const colon = this.endpoint.lastIndexOf(":");
    const socket = connect({
      host: this.endpoint.slice(0, colon),
      port: Number(this.endpoint.slice(colon + 1)),
    });
    socket.setNoDelay(true);
    this.parser = new ReplySplitter();
    socket.on("data", (chunk: Buffer) => this.onData(socket, chunk));
    socket.on("error", () => undefined); // 'close' follows.
    socket.on("close", () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.batchBytes = 0;
      this.fail(new CallError("connection", `connection to ${this.endpoint} lost or refused`));
    });
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(5, Math.min(50, this.timeoutMs / 4)));
    return socket;
  }

  /** Appends one frame: header, the method's meta prefix, correlation_id (field 4), the message. */
  private append(prefix: Uint8Array, id: number, message: Uint8Array): void {
    let idBytes = 1;
    for (let v = id; v >= 0x80; v = Math.floor(v / 0x80)) idBytes++;
    const metaBytes = prefix.length + 1 + idBytes;
    const frameBytes = 12 + metaBytes + message.length;
    if (this.batchBytes + frameBytes > this.batch.length) this.grow(frameBytes);
    const out = this.batch;
    let at = this.batchBytes;
    out.set(MAGIC, at);
    out.writeUInt32BE(metaBytes + message.length, at + 4);
    out.writeUInt32BE(metaBytes, at + 8);
    out.set(prefix, at + 12);
    at += 12 + prefix.length;
    out[at++] = 0x20;
    let v = id;
    while (v >= 0x80) {
      out[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    out[at++] = v;
    out.set(message, at);
    this.batchBytes = at + message.length;
    if (!this.flushQueued) {
      this.flushQueued = true;
      process.nextTick(() => this.flush());
    }
  }

  private grow(frameBytes: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.batch.length * 2, this.batchBytes + frameBytes));
    this.batch.copy(bigger, 0, 0, this.batchBytes);
    this.batch = bigger;
  }

  /** Hands the turn's frames to the socket; the buffer now belongs to it, so take a fresh one. */
  private flush(): void {
    this.flushQueued = false;
    if (this.batchBytes === 0 || this.socket === undefined) return;
    this.socket.write(this.batch.subarray(0, this.batchBytes));
    this.batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES_MIN, this.batch.length));
    this.batchBytes = 0;
  }

  private onData(socket: Socket, chunk: Buffer): void {
    try {
      for (const frame of this.parser.push(chunk)) this.onFrame(frame.meta, frame.payload);
    } catch (error) {
      socket.destroy(error as Error);
    }
  }

  /** Reads what a reply's RpcMeta says: correlation_id, error_code/text, attachment_size. */
  private onFrame(meta: Uint8Array, payload: Uint8Array): void {
    let id = 0;
    let errorCode = 0;
    let errorText = "";
    let attachmentBytes = 0;
    const reader = new MetaReader(meta);
    while (reader.more()) {
      const tag = reader.varint();
      const field = tag >>> 3;
      if (field === 2 && (tag & 7) === 2) {
        const response = new MetaReader(reader.bytes());
        while (response.more()) {
          const inner = response.varint();
          if (inner === 0x08) errorCode = response.varint() | 0;
          else if (inner === 0x12) errorText = new TextDecoder().decode(response.bytes());
          else response.skip(inner & 7);
        }
      } else if (field === 4 && (tag & 7) === 0) id = reader.varint();
      else if (field === 5 && (tag & 7) === 0) attachmentBytes = reader.varint();
      else reader.skip(tag & 7);
    }
    const call = this.pending.get(id);
    if (call === undefined) return; // Timed out already.
    this.pending.delete(id);
    if (errorCode !== 0) call.reject(new CallError("rpc", `${this.endpoint}: [${errorCode}] ${errorText}`));
    else call.resolve(payload.subarray(0, payload.length - attachmentBytes));
  }

  /** Fails the calls past their deadline; they were sent in order, so the oldest come first. */
  private sweep(): void {
    const nowMs = performance.now();
    for (const [id, call] of this.pending) {
      if (call.deadlineMs > nowMs) break;
      this.pending.delete(id);
      call.reject(new CallError("timeout", `no reply from ${this.endpoint} in ${this.timeoutMs} ms`));
    }
    if (this.closed && this.pending.size === 0) clearInterval(this.sweeper);
  }

  private fail(error: CallError): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const call of calls) call.reject(error);
    if (this.closed) clearInterval(this.sweeper);
  }
}

/** The largest reply accepted: a counter reply is a few dozen bytes; anything near this is garbage. */
const REPLY_BODY_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Cuts the reply stream into baidu_std frames: "PRPC", body size, meta size (big endian), then
 * the meta and the message. Replies are tiny, so a frame split across chunks is simply joined.
 */
class ReplySplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** The frames `chunk` completes, as (meta, payload) views. Throws on a malformed stream. */
  push(chunk: Buffer): { meta: Uint8Array; payload: Uint8Array }[] {
    let bytes = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: { meta: Uint8Array; payload: Uint8Array }[] = [];
    while (bytes.length >= 12) {
      if (bytes.readUInt32BE(0) !== 0x50525043) throw new Error("reply stream is not baidu_std");
      const bodyBytes = bytes.readUInt32BE(4);
      const metaBytes = bytes.readUInt32BE(8);
      if (bodyBytes > REPLY_BODY_BYTES_MAX || metaBytes > bodyBytes) throw new Error("bad reply frame sizes");
      if (bytes.length < 12 + bodyBytes) break;
      frames.push({
        meta: bytes.subarray(12, 12 + metaBytes),
        payload: bytes.subarray(12 + metaBytes, 12 + bodyBytes),
      });
      bytes = bytes.subarray(12 + bodyBytes);
    }
    this.pending = bytes;
    return frames;
  }
}

/** Walks protobuf fields of a small message (RpcMeta) without building objects for them. */
class MetaReader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  more(): boolean {
    return this.pos < this.buf.length;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      const byte = this.buf[this.pos++];
      if (byte === undefined) throw new Error("truncated RpcMeta");
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
  }

  bytes(): Uint8Array {
    const length = this.varint();
    const start = this.pos;
    this.pos += length;
    if (this.pos > this.buf.length) throw new Error("truncated RpcMeta");
    return this.buf.subarray(start, this.pos);
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`RpcMeta: wire type ${wireType}`);
  }
}
