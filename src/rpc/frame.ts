/**
 * brpc's baidu_std framing: a 12-byte header (`PRPC`, body size, meta size; big-endian u32),
 * then `meta size` bytes of RpcMeta, then the payload (message followed by the attachment).
 * body size counts meta and payload.
 */

/** Bytes of the fixed header. */
export const HEADER_BYTES = 12;

/** "PRPC" as a big-endian u32, compared without decoding text. */
const MAGIC = 0x50525043;

/** brpc's default -max_body_size (64 MiB): the largest body either side accepts. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Frames at least this large are copied into a buffer of their own as their bytes arrive, not in
 * one piece once complete: copying (and first touching) tens of MiB at once stalls the event loop
 * of the whole process, every group's heartbeats included, for as long as the copy takes.
 */
export const ASSEMBLE_FRAME_BYTES_MIN = 1024 * 1024;

/** A large frame being filled as its chunks arrive. */
interface Assembly {
  readonly frame: Buffer;
  readonly metaBytes: number;
  filled: number;
}

/** Why a byte stream is not baidu_std; the connection carrying it must be closed. */
export type FrameErrorReason = "bad-magic" | "too-large" | "bad-sizes" | "bad-meta";

/** A stream that cannot be parsed further. Carries a reason a test or a log can check. */
export class FrameError extends Error {
  override readonly name = "FrameError";
  constructor(
    readonly reason: FrameErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** One frame split into its two parts; both are views into the received bytes. */
export interface RawFrame {
  readonly meta: Uint8Array;
  /** The message followed by the attachment. */
  readonly payload: Uint8Array;
}

/** The 12-byte header of a frame with `metaBytes` of meta and `payloadBytes` after it. */
export function encodeHeader(metaBytes: number, payloadBytes: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(metaBytes + payloadBytes, 4);
  header.writeUInt32BE(metaBytes, 8);
  return header;
}

/** True when `bytes` (at least 4 of them) start with "PRPC". */
export function startsWithMagic(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x52 && bytes[2] === 0x50 && bytes[3] === 0x43
  );
}

function rawFrame(frame: Buffer, metaBytes: number): RawFrame {
  return {
    meta: frame.subarray(HEADER_BYTES, HEADER_BYTES + metaBytes),
    payload: frame.subarray(HEADER_BYTES + metaBytes),
  };
}

/**
 * Cuts a byte stream into frames. Chunks may split a frame at any byte; a frame that lies in
 * one chunk is returned without copying. After a FrameError the parser is unusable, as is the
 * connection (brpc closes it too: nothing after a bad header can be trusted).
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private assembly: Assembly | undefined;
  private failed: FrameError | undefined;

  constructor(private readonly maxBodyBytes: number = DEFAULT_MAX_BODY_BYTES) {}

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered + (this.assembly?.filled ?? 0);
  }

  /** Adds received bytes and returns the frames they complete. Throws FrameError. */
  push(chunk: Buffer): RawFrame[] {
    if (this.failed !== undefined) throw this.failed;
    const frames: RawFrame[] = [];
    try {
      let rest: Buffer;
      if (this.assembly !== undefined) rest = this.fill(this.assembly, chunk, frames);
      else if (this.buffered === 0) rest = this.cutWhole(chunk, frames);
      else rest = chunk;
      if (rest.length > 0) {
        this.chunks.push(rest);
        this.buffered += rest.length;
      }
      for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    } catch (err) {
      this.failed = err as FrameError;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return frames;
  }

  /**
   * With nothing buffered (the usual case: a read that starts at a frame boundary), cuts the
   * complete frames straight out of `chunk` as views, with no chunk list; returns the bytes left.
   */
  private cutWhole(chunk: Buffer, frames: RawFrame[]): Buffer {
    let offset = 0;
    while (chunk.length - offset >= HEADER_BYTES) {
      const { frameBytes, metaBytes } = this.checkHeader(chunk, offset);
      if (chunk.length - offset < frameBytes) break;
      const start = offset + HEADER_BYTES;
      frames.push({
        meta: chunk.subarray(start, start + metaBytes),
        payload: chunk.subarray(start + metaBytes, offset + frameBytes),
      });
      offset += frameBytes;
    }
    return offset === 0 ? chunk : chunk.subarray(offset);
  }

  /** The sizes in the header at `offset` of `bytes`; throws FrameError for a header to refuse. */
  private checkHeader(bytes: Buffer, offset: number): { frameBytes: number; metaBytes: number } {
    if (bytes.readUInt32BE(offset) !== MAGIC) {
      throw new FrameError("bad-magic", "stream is not baidu_std: the frame does not start with PRPC");
    }
    const bodyBytes = bytes.readUInt32BE(offset + 4);
    const metaBytes = bytes.readUInt32BE(offset + 8);
    if (bodyBytes > this.maxBodyBytes) {
      throw new FrameError(
        "too-large",
        `frame body of ${bodyBytes} bytes exceeds the maximum of ${this.maxBodyBytes} bytes`,
      );
    }
    if (metaBytes > bodyBytes) {
      throw new FrameError("bad-sizes", `meta size ${metaBytes} exceeds body size ${bodyBytes}`);
    }
    return { frameBytes: HEADER_BYTES + bodyBytes, metaBytes };
  }

  private next(): RawFrame | undefined {
    if (this.buffered < HEADER_BYTES) return undefined;
    const { frameBytes, metaBytes } = this.checkHeader(this.peek(HEADER_BYTES), 0);
    if (this.buffered < frameBytes) {
      if (frameBytes >= ASSEMBLE_FRAME_BYTES_MIN) this.startAssembly(frameBytes, metaBytes);
      return undefined;
    }
    return rawFrame(this.take(frameBytes), metaBytes);
  }

  /** Moves what is buffered (all of it belongs to this incomplete frame) into the frame's own buffer. */
  private startAssembly(frameBytes: number, metaBytes: number): void {
    const frame = Buffer.allocUnsafe(frameBytes);
    let filled = 0;
    for (const chunk of this.chunks) filled += chunk.copy(frame, filled);
    this.chunks = [];
    this.buffered = 0;
    this.assembly = { frame, metaBytes, filled };
  }

  /** Copies the start of `chunk` into the frame being assembled; returns the bytes after it. */
  private fill(assembly: Assembly, chunk: Buffer, frames: RawFrame[]): Buffer {
    const copied = chunk.copy(assembly.frame, assembly.filled, 0);
    assembly.filled += copied;
    if (assembly.filled < assembly.frame.length) return chunk.subarray(chunk.length);
    this.assembly = undefined;
    frames.push(rawFrame(assembly.frame, assembly.metaBytes));
    return chunk.subarray(copied);
  }

  /** The first `n` buffered bytes, copied only when they span chunks. */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, n);
  }

  /** Removes and returns the first `n` buffered bytes. */
  private take(n: number): Buffer {
    let first = this.chunks[0] as Buffer;
    if (first.length < n) {
      // Merge only the chunks the frame spans; later ones stay as they are.
      let count = 0;
      for (let bytes = 0; bytes < n; count++) bytes += (this.chunks[count] as Buffer).length;
      first = Buffer.concat(this.chunks.slice(0, count));
      this.chunks.splice(0, count, first);
    }
    const frame = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return frame;
  }
}
