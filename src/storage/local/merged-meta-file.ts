/**
 * The one file behind every `local-merged://<dir>` raft meta of a process (braft's
 * KVBasedMergedMetaStorageImpl, which keeps them in one leveldb per disk). Thousands of groups
 * on one disk then cost one fsync per batch of votes instead of one file replace (write, fsync,
 * rename, directory fsync) per group: what makes elections cheap after a restart of a process
 * hosting many groups.
 *
 * Format (tsraft's own: braft's is a leveldb database, which no JavaScript runtime reads
 * without a native module): `<dir>/raft_meta_merged`, an append-only sequence of records
 *
 *     u32 BE payload length | u32 BE crc32c(payload) | payload
 *     payload = u16 BE key length | key (UTF-8) | braft's StablePBMeta {term, votedfor}
 *
 * An empty StablePBMeta is a deletion. At open the records are replayed, the last one of a key
 * winning; an incomplete or checksum-failing record at the very end (a write a crash cut) is cut
 * off, one anywhere else refuses to open (EIO). When the file holds more than twice the live
 * records (and at least 64 KiB), it is rewritten whole to `raft_meta_merged.tmp`, fsynced and
 * renamed over, so a crash leaves the old or the new file.
 */
import { open, readFile, rename, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { HardState } from "../../core/types.js";
import { crc32cOf } from "./checksum.js";
import { fsyncDir, ioError, isNotFound, syncFile, writeFully } from "./fs-util.js";
import type { ResolvedLocalOptions } from "./options.js";
import { decodeStableMeta, encodeStableMeta } from "./pb-codec.js";
import { openStorageDirectory, type StorageDirectory } from "./storage-dir.js";

/** The file's name in its directory. */
export const MERGED_META_FILE = "raft_meta_merged";
const RECORD_HEADER_BYTES = 8;
const COMPACT_BYTES_MIN = 64 * 1024;

interface PendingWrite {
  readonly record: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** One process-wide merged meta file: shared by every node whose raft meta URI names its directory. */
export class MergedMetaFile {
  private readonly states = new Map<string, HardState>();
  /** The size of each key's last record: the bytes a compaction would keep. */
  private readonly sizes = new Map<string, number>();
  private readonly file: string;
  private fh: FileHandle | undefined;
  private directory: StorageDirectory | undefined;
  private bytes = 0;
  private liveBytes = 0;
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  private failure: RaftError | undefined;
  /** Nodes holding the file open; it closes with the last. */
  users = 0;
  /** File writes so far, each one batch of records (for tests and status). */
  writes = 0;

  constructor(
    readonly path: string,
    private readonly opts: ResolvedLocalOptions,
  ) {
    this.file = join(path, MERGED_META_FILE);
  }

  /** Locks the directory and replays the file. */
  async open(): Promise<void> {
    this.directory = await openStorageDirectory(this.path, "merged raft meta", this.opts);
    try {
      await rm(`${this.file}.tmp`, { force: true });
      const validBytes = await this.replay();
      this.fh = await open(this.file, "a+");
      if (validBytes < (await this.fh.stat()).size) await this.fh.truncate(validBytes);
      this.bytes = validBytes;
    } catch (error) {
      await this.fh?.close().catch(() => undefined);
      await this.directory.release();
      throw RaftError.is(error) ? error : ioError("open", this.file, error);
    }
  }

  /** The state last stored under `key`; term 0 and no vote when there is none. */
  get(key: string): HardState {
    return this.states.get(key) ?? { term: 0, votedFor: "" };
  }

  /** Stores `state` under `key`; resolves once durable (fsynced when raft_sync or raft_sync_meta is on). */
  set(key: string, state: HardState): Promise<void> {
    return this.write(key, encodeStableMeta(state), state);
  }

  /** Forgets `key` (braft's gc of a destroyed node's meta). */
  delete(key: string): Promise<void> {
    return this.write(key, new Uint8Array(0), undefined);
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
    await this.directory?.release();
    this.directory = undefined;
  }

  private write(key: string, value: Uint8Array, state: HardState | undefined): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const record = encodeRecord(key, value);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({
        record,
        resolve: () => {
          this.remember(key, state, record.length);
          resolve();
        },
        reject,
      });
      // Started a microtask later, so the votes of every node in this turn share the first write.
      this.flushing ??= Promise.resolve().then(() => this.flushLoop());
    });
  }

  private remember(key: string, state: HardState | undefined, recordBytes: number): void {
    this.liveBytes -= this.sizes.get(key) ?? 0;
    if (state === undefined) {
      this.states.delete(key);
      this.sizes.delete(key);
      return;
    }
    this.states.set(key, { term: state.term, votedFor: state.votedFor });
    this.sizes.set(key, recordBytes);
    this.liveBytes += recordBytes;
  }

  /** Writes queued records, at most raft_meta_write_batch per write and fsync (braft's batch). */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        if (this.failure !== undefined) {
          for (const write of this.pending.splice(0)) write.reject(this.failure);
          return;
        }
        const batch = this.pending.splice(0, this.opts.metaWriteBatch);
        try {
          await this.append(Buffer.concat(batch.map((write) => write.record)));
        } catch (error) {
          this.failure = RaftError.is(error) ? error : ioError("append to", this.file, error);
          for (const write of [...batch, ...this.pending.splice(0)]) write.reject(this.failure);
          return;
        }
        for (const write of batch) write.resolve();
        if (this.bytes > COMPACT_BYTES_MIN && this.bytes > 2 * this.liveBytes) {
          // A failed compaction leaves the old file whole, or the new one renamed in: later
          // writes fail (the file handle is in doubt) and a restart replays whichever is there.
          await this.compact().catch((error: unknown) => {
            this.failure = ioError("compact", this.file, error);
          });
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async append(buf: Uint8Array): Promise<void> {
    const fh = this.fh;
    if (fh === undefined) throw new RaftError("EINVAL", `merged raft meta ${this.file} is closed`);
    this.writes++;
    await writeFully(fh, buf, this.bytes);
    if (this.opts.syncMeta) await syncFile(fh, this.opts.useFsync);
    this.bytes += buf.length;
  }

  /** Rewrites the live records only; the rename makes the swap atomic. */
  private async compact(): Promise<void> {
    const records: Uint8Array[] = [];
    for (const [key, state] of this.states) {
      const record = encodeRecord(key, encodeStableMeta(state));
      this.sizes.set(key, record.length);
      records.push(record);
    }
    const buf = Buffer.concat(records);
    const tmp = `${this.file}.tmp`;
    const out = await open(tmp, "w");
    try {
      await writeFully(out, buf, 0);
      await syncFile(out, this.opts.useFsync);
    } finally {
      await out.close();
    }
    await rename(tmp, this.file);
    await fsyncDir(this.path);
    await this.fh?.close();
    this.fh = await open(this.file, "a+");
    this.bytes = buf.length;
    this.liveBytes = buf.length;
  }

  /** Reads every record into `states`; returns the bytes covered by valid records. */
  private async replay(): Promise<number> {
    let buf: Buffer;
    try {
      buf = await readFile(this.file);
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw ioError("read", this.file, err);
    }
    let offset = 0;
    while (offset < buf.length) {
      const record = decodeRecord(buf, offset);
      if (typeof record === "string") {
        if (record !== "malformed" && this.isTail(buf, offset)) break;
        throw new RaftError("EIO", `Corrupted merged raft meta ${this.file} at offset ${offset}: ${record}`);
      }
      this.remember(record.key, record.state, record.bytes);
      offset += record.bytes;
    }
    return offset;
  }

  /** A bad record is a cut write only when no valid record can follow it: it must reach the end. */
  private isTail(buf: Buffer, offset: number): boolean {
    if (buf.length - offset < RECORD_HEADER_BYTES) return true;
    return offset + RECORD_HEADER_BYTES + buf.readUInt32BE(offset) >= buf.length;
  }
}

function encodeRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = Buffer.from(key, "utf8");
  if (keyBytes.length > 0xffff) throw new RaftError("EINVAL", `merged raft meta key too long: ${key}`);
  const payload = Buffer.allocUnsafe(2 + keyBytes.length + value.length);
  payload.writeUInt16BE(keyBytes.length, 0);
  payload.set(keyBytes, 2);
  payload.set(value, 2 + keyBytes.length);
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32BE(payload.length, 0);
  record.writeUInt32BE(crc32cOf(payload), 4);
  record.set(payload, RECORD_HEADER_BYTES);
  return record;
}

type DecodedRecord = { key: string; state: HardState | undefined; bytes: number };

function decodeRecord(buf: Buffer, offset: number): DecodedRecord | "incomplete" | "checksum" | "malformed" {
  if (buf.length - offset < RECORD_HEADER_BYTES) return "incomplete";
  const length = buf.readUInt32BE(offset);
  const start = offset + RECORD_HEADER_BYTES;
  if (buf.length - start < length) return "incomplete";
  const payload = buf.subarray(start, start + length);
  if (crc32cOf(payload) !== buf.readUInt32BE(offset + 4)) return "checksum";
  if (length < 2) return "malformed";
  const keyLength = payload.readUInt16BE(0);
  if (2 + keyLength > length) return "malformed";
  const key = payload.subarray(2, 2 + keyLength).toString("utf8");
  const value = payload.subarray(2 + keyLength);
  try {
    const state = value.length === 0 ? undefined : decodeStableMeta(value);
    return { key, state, bytes: RECORD_HEADER_BYTES + length };
  } catch {
    return "malformed";
  }
}
