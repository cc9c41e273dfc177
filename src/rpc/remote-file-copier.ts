/**
 * braft's RemoteFileCopier: the follower side of snapshot copy. Reads one file of a remote reader
 * through `get_file`, chunk by chunk, and writes each chunk to disk before asking for the next,
 * so memory use does not depend on the file's size: at most one chunk is in flight.
 */
import { RaftError } from "../core/errors.js";
import {
  defaultFileSystem,
  FileOpenFlags,
  type FileAdaptor,
  type FileSystemAdaptor,
} from "../storage/fs-adaptor.js";
import { checkedFileSystem } from "../storage/fs-adaptor-checked.js";
import type { Channel } from "./channel.js";
import { ChannelPool } from "./channel-pool.js";
import { decodeSegments, type FileSegment } from "./file-seg-data.js";
import { FileService } from "./gen/braft/file_service_pb.js";
import { callMethod } from "./typed-call.js";
import { realCopyClock, sleep, type CopyClock, type CopyThrottle } from "./snapshot-throttle.js";

/** Defaults, with braft's names: raft_max_byte_count_per_rpc and CopyOptions. */
export const FileCopyDefaults = {
  /** raft_max_byte_count_per_rpc: bytes asked for per get_file. */
  maxByteCountPerRpc: 128 * 1024,
  /** CopyOptions.max_retry: failed calls retried per chunk before the copy fails. */
  maxRetry: 3,
  /** CopyOptions.retry_interval_ms: wait before the first retry; doubles per retry, up to 4x. */
  retryIntervalMs: 1000,
  /** CopyOptions.timeout_ms: per get_file call. */
  timeoutMs: 10_000,
} as const;

/** How a copier talks to the leader (the per-node forms of braft's flags). */
export interface FileCopyOptions {
  readonly maxByteCountPerRpc?: number | undefined;
  readonly maxRetry?: number | undefined;
  readonly retryIntervalMs?: number | undefined;
  readonly timeoutMs?: number | undefined;
  /** raft_allow_read_partly_when_install_snapshot (true): lets a throttled leader send less. */
  readonly readPartly?: boolean | undefined;
  readonly clock?: CopyClock | undefined;
}

/** Per-copy options. */
export interface CopyFileOptions {
  /** Aborting fails the copy with ECANCELED at once, in-flight call included. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The follower-side throttle; each chunk waits for its bytes. Give the copier the throttle's
   * clock (`FileCopyOptions.clock`) when it is not the real one.
   */
  readonly throttle?: CopyThrottle | undefined;
  /** fsync the file once written (braft does). Off by default: LocalSnapshotStorage syncs on close. */
  readonly sync?: boolean | undefined;
  /** The file system the file is written through (the writer's); the real one by default. */
  readonly fileSystem?: FileSystemAdaptor | undefined;
}

/** A parsed `remote://ip:port/reader_id` URI. */
export interface RemoteUri {
  readonly endpoint: string;
  readonly readerId: bigint;
}

/** Parses braft's `remote://ip:port/reader_id`; EINVAL when malformed. */
export function parseRemoteUri(uri: string): RemoteUri {
  const match = /^remote:\/\/([^/]+:\d+)\/(-?\d+)$/.exec(uri);
  const readerId = match?.[2] === undefined ? undefined : BigInt(match[2]);
  if (match?.[1] === undefined || readerId === undefined || BigInt.asIntN(64, readerId) !== readerId) {
    throw new RaftError("EINVAL", `Invalid uri=${uri}`);
  }
  return { endpoint: match[1], readerId };
}

/** Codes a retry cannot fix: the reader or file is gone or refused, or we are shutting down. */
const PERMANENT = new Set(["ENOENT", "EPERM", "EINVAL", "ENOSYS", "ESHUTDOWN", "ECANCELED", "EACCES"]);

/** One answered get_file. */
interface Chunk {
  readonly segments: FileSegment[];
  readonly eof: boolean;
  /** read_size, 0 when the server sent none. */
  readonly readSize: number;
  /** How far the next request starts: read_size when sent (> 0), else the count asked (braft). */
  readonly advance: number;
}

/** Copies files of one remote reader. */
export class RemoteFileCopier {
  readonly endpoint: string;
  readonly readerId: bigint;
  private readonly maxBytes: number;
  private readonly maxRetry: number;
  private readonly retryIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly readPartly: boolean;
  private readonly clock: CopyClock;
  private calls = 0;

  constructor(
    uri: string,
    private readonly channels: ChannelPool | Channel,
    options: FileCopyOptions = {},
  ) {
    ({ endpoint: this.endpoint, readerId: this.readerId } = parseRemoteUri(uri));
    this.maxBytes = options.maxByteCountPerRpc ?? FileCopyDefaults.maxByteCountPerRpc;
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) {
      throw new RaftError("EINVAL", `invalid maxByteCountPerRpc ${this.maxBytes}`);
    }
    this.maxRetry = options.maxRetry ?? FileCopyDefaults.maxRetry;
    this.retryIntervalMs = options.retryIntervalMs ?? FileCopyDefaults.retryIntervalMs;
    this.timeoutMs = options.timeoutMs ?? FileCopyDefaults.timeoutMs;
    this.readPartly = options.readPartly ?? true;
    this.clock = options.clock ?? realCopyClock;
  }

  /** get_file calls sent so far, retries included. */
  get rpcCount(): number {
    return this.calls;
  }

  /**
   * Copies remote `filename` into `destPath` (created or truncated); resolves with its size.
   * The partial file is left behind on failure: it lives in the writer's directory, which a
   * failed writer discards.
   */
  async copyToFile(filename: string, destPath: string, options: CopyFileOptions = {}): Promise<number> {
    const fs = checkedFileSystem(options.fileSystem ?? defaultFileSystem());
    // braft's flags: O_TRUNC | O_WRONLY | O_CREAT.
    const file = await fs.open(destPath, FileOpenFlags.writeNew);
    try {
      let offset = 0;
      let written = 0;
      let end = 0;
      for (;;) {
        const chunk = await this.fetch(filename, offset, this.maxBytes, options);
        for (const segment of chunk.segments) {
          await file.write(segment.data, segment.offset);
          written = Math.max(written, segment.offset + segment.data.length);
        }
        // Segments may skip zero blocks (braft's raft_file_check_hole): read_size still counts
        // them, so a trailing hole is written as zeros below.
        end = Math.max(end, written, offset + chunk.readSize);
        if (chunk.eof) break;
        offset += chunk.advance;
      }
      await fillZeros(file, written, end);
      if (options.sync === true) await file.sync();
      await file.close();
      return end;
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Copies a small remote file into memory (braft's copy_to_iobuf, used for the meta file). Like
   * braft it asks for everything at once; a server answering in parts is followed to eof.
   * At most `maxBytes`.
   */
  async copyToBuffer(
    filename: string,
    options: CopyFileOptions = {},
    maxBytes = 64 * 1024 * 1024,
  ): Promise<Uint8Array> {
    let buf = Buffer.alloc(0);
    let offset = 0;
    for (;;) {
      // braft asks for UINT_MAX bytes here and the meta file comes back whole.
      const chunk = await this.fetch(filename, offset, 0xffffffff, { ...options, throttle: undefined });
      for (const { offset: at, data } of chunk.segments) {
        if (at + data.length > maxBytes) throw new RaftError("EIO", `${filename} exceeds ${maxBytes} bytes`);
        const next = Buffer.alloc(at + data.length);
        buf.copy(next, 0, 0, Math.min(buf.length, at));
        next.set(data, at);
        buf = next;
      }
      if (chunk.eof) return buf;
      offset += chunk.advance;
    }
  }

  /** One chunk, retried as braft does: EAGAIN (throttled) forever, other failures `maxRetry` times. */
  private async fetch(
    filename: string,
    offset: number,
    max: number,
    options: CopyFileOptions,
  ): Promise<Chunk> {
    const { signal, throttle } = options;
    for (let failures = 0; ;) {
      if (aborted(signal)) throw cancelled(signal);
      const count = await grant(throttle, max, signal);
      const grantedAtMs = this.clock.nowMs();
      let chunk: Chunk | undefined;
      let error: RaftError | undefined;
      try {
        chunk = await this.call(filename, offset, count, signal);
      } catch (err) {
        error = RaftError.is(err) ? err : new RaftError("EIO", String(err), { cause: err });
      }
      // Bytes granted but not received go back to the throttle before any wait below.
      const used = chunk?.segments.reduce((sum, segment) => sum + segment.data.length, 0) ?? 0;
      if (used < count) throttle?.returnUnusedThroughput?.(count, used, this.clock.nowMs() - grantedAtMs);
      if (chunk !== undefined) return chunk;
      if (aborted(signal)) throw cancelled(signal);
      const failure = error as RaftError;
      if (failure.code === "EAGAIN") {
        // A throttled leader: wait and ask again, without using up a retry (braft).
        await sleep(this.clock, throttle?.retryIntervalMs ?? this.retryIntervalMs, signal);
        continue;
      }
      if (PERMANENT.has(failure.code) || ++failures > this.maxRetry) throw failure;
      await sleep(this.clock, this.retryIntervalMs * 2 ** Math.min(failures - 1, 2), signal);
    }
  }

  private async call(
    filename: string,
    offset: number,
    count: number,
    signal: AbortSignal | undefined,
  ): Promise<Chunk> {
    this.calls++;
    const channel = this.channels instanceof ChannelPool ? this.channels.get(this.endpoint) : this.channels;
    const { response, attachment } = await callMethod(
      channel,
      FileService,
      "get_file",
      {
        readerId: this.readerId,
        filename,
        count: BigInt(count),
        offset: BigInt(offset),
        readPartly: this.readPartly,
      },
      { timeoutMs: this.timeoutMs, signal },
    );
    const readSize = Number(response.readSize);
    const advance = readSize > 0 && this.readPartly ? readSize : count;
    return { segments: decodeSegments(attachment), eof: response.eof, readSize, advance };
  }
}

/** Bytes the next request may ask for: a partial grant when the throttle can give one. */
async function grant(
  throttle: CopyThrottle | undefined,
  max: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (throttle === undefined) return max;
  if (throttle.acquireUpTo !== undefined) return throttle.acquireUpTo(max, signal);
  await throttle.acquire(max, signal);
  return max;
}

/** A function, not `signal.aborted` inline: TypeScript would keep its narrowing across awaits. */
function aborted(signal: AbortSignal | undefined): signal is AbortSignal {
  return signal?.aborted === true;
}

function cancelled(signal: AbortSignal): RaftError {
  return new RaftError("ECANCELED", "snapshot copy cancelled", { cause: signal.reason });
}

/** Zeros from `from` to `to`: the file is new (O_TRUNC), so this only ever extends it. */
async function fillZeros(file: FileAdaptor, from: number, to: number): Promise<void> {
  const zeros = new Uint8Array(Math.min(Math.max(0, to - from), 1024 * 1024));
  for (let at = from; at < to; at += zeros.length) {
    await file.write(zeros.subarray(0, Math.min(zeros.length, to - at)), at);
  }
}
