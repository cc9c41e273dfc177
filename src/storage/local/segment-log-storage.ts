/**
 * braft's SegmentLogStorage: the `local://` LogStorage. Entries go to segment files with one write
 * and one fsync per group of appends (appends that arrive while an fsync runs share the next one);
 * an in-memory index of offsets and terms answers reads, and recent entries are served from memory.
 */
import { join } from "node:path";
import { RaftError, invariant } from "../../core/errors.js";
import { EntryType, type LogEntry } from "../../core/types.js";
import type { LogStorage } from "../interfaces.js";
import { ChunkEncoder } from "./chunk-encoder.js";
import { ENTRY_HEADER_SIZE, entryPayload } from "./entry-codec.js";
import { fsyncDir, ioError, saveProtoBufFile } from "./fs-util.js";
import { LOG_META_FILE, recoverLog, type TornTail } from "./log-recovery.js";
import { resolveLocalOptions, type LocalStorageOptions, type ResolvedLocalOptions } from "./options.js";
import { encodeLogMeta } from "./pb-codec.js";
import { RecentEntries } from "./recent-entries.js";
import { openStorageDirectory, type StorageDirectory } from "./storage-dir.js";
import { Segment } from "./segment.js";
import { WriteQueue, type GroupOp } from "./write-queue.js";

/** Process-wide counters of what log recovery repaired (also logged). */
export const localLogCounters = { tornTailTruncations: 0 };

/** The `local://` LogStorage: a directory of braft-format segments. */
export class SegmentLogStorage implements LogStorage {
  private readonly opts: ResolvedLocalOptions;
  private readonly recent: RecentEntries;
  private readonly queue: WriteQueue<readonly LogEntry[]>;
  private readonly encoder = new ChunkEncoder();
  private segments: Segment[] = [];
  private first = 1;
  private last = 0;
  /** first/lastLogIndex once every queued operation has run: what the next append must continue. */
  private pendingFirst = 1;
  private pendingLast = 0;
  private state: "new" | "open" | "closed" = "new";
  /** What recovery cut off the end of the last segment at init, if anything. */
  tornTail: TornTail | undefined;
  /** The locked directory, from init to close. */
  private directory: StorageDirectory | undefined;
  private recoveredConfs: LogEntry[] = [];
  /** Bytes appended since the last fsync (raft_sync_policy 1). */
  private unsyncedBytes = 0;

  /** @param path the log directory (braft's log_uri path). */
  constructor(
    readonly path: string,
    options: LocalStorageOptions = {},
  ) {
    this.opts = resolveLocalOptions(options);
    this.recent = new RecentEntries(this.opts.recentEntriesMax, this.opts.recentBytesMax);
    this.queue = new WriteQueue((ops) => this.writeGroup(ops));
  }

  async init(onConfiguration: (entry: LogEntry) => void): Promise<void> {
    if (this.state !== "new")
      throw new RaftError("EINVAL", `log storage ${this.path} was already initialized`);
    const directory = await openStorageDirectory(this.path, "log", this.opts);
    this.directory = directory;
    try {
      await this.recover();
    } catch (error) {
      this.directory = undefined;
      await directory.release();
      throw error;
    }
    this.state = "open";
    for (const conf of this.recoveredConfs.splice(0)) onConfiguration(conf);
  }

  /** Reads the segments back, repairing what a crash may leave (see log-recovery.ts). */
  private async recover(): Promise<void> {
    const recovered = await recoverLog(this.path, this.opts);
    this.segments = recovered.segments;
    this.first = recovered.firstIndex;
    this.last = this.segments.at(-1)?.lastIndex ?? this.first - 1;
    this.pendingFirst = this.first;
    this.pendingLast = this.last;
    this.tornTail = recovered.tornTail;
    if (recovered.tornTail !== undefined) localLogCounters.tornTailTruncations++;
    if (recovered.metaFirstIndex !== this.first) await this.saveMeta(this.first);
    this.recoveredConfs = recovered.confs;
  }

  firstLogIndex(): number {
    return this.first;
  }

  lastLogIndex(): number {
    return this.last;
  }

  getEntry(index: number): LogEntry | undefined {
    if (index < this.first || index > this.last) return undefined;
    return this.recent.get(index) ?? this.segmentOf(index)?.readEntry(index);
  }

  getTerm(index: number): number {
    if (index < this.first || index > this.last) return 0;
    return this.recent.get(index)?.term ?? this.segmentOf(index)?.termAt(index) ?? 0;
  }

  async appendEntries(entries: readonly LogEntry[]): Promise<void> {
    this.checkOpen();
    for (let i = 0; i < entries.length; i++) {
      if (entries[i]!.index !== this.pendingLast + 1 + i) {
        throw new RaftError(
          "EINVAL",
          `append of entry ${entries[i]!.index} does not follow last index ${this.pendingLast}`,
        );
      }
    }
    if (entries.length === 0) return;
    this.pendingLast += entries.length;
    return this.queue.append(entries, payloadBytes(entries));
  }

  async truncatePrefix(firstIndexKept: number): Promise<void> {
    this.checkOpen();
    checkIndex(firstIndexKept, 1);
    this.pendingFirst = Math.max(this.pendingFirst, firstIndexKept);
    this.pendingLast = Math.max(this.pendingLast, firstIndexKept - 1);
    return this.queue.control(() => this.doTruncatePrefix(firstIndexKept));
  }

  async truncateSuffix(lastIndexKept: number): Promise<void> {
    this.checkOpen();
    checkIndex(lastIndexKept, 0);
    // Entries before the first index are already gone: keeping "up to first-1" is the least.
    const keep = Math.max(lastIndexKept, this.pendingFirst - 1);
    this.pendingLast = Math.min(this.pendingLast, keep);
    return this.queue.control(() => this.doTruncateSuffix(keep));
  }

  async reset(nextLogIndex: number): Promise<void> {
    this.checkOpen();
    checkIndex(nextLogIndex, 1);
    this.pendingFirst = nextLogIndex;
    this.pendingLast = nextLogIndex - 1;
    return this.queue.control(() => this.doReset(nextLogIndex));
  }

  /** Waits for queued writes, then releases every file. Idempotent. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    await this.queue.control(async () => undefined).catch(() => undefined);
    for (const seg of this.segments) await seg.release();
    this.recent.clear();
    await this.directory?.release();
    this.directory = undefined;
  }

  /** One group of appends: one write and one fsync per segment it touches (one, but at a rollover). */
  private async writeGroup(ops: readonly GroupOp<readonly LogEntry[]>[]): Promise<void> {
    const entries = ops.length === 1 ? ops[0]!.item : ops.flatMap((op) => op.item);
    const payloads = entries.map(entryPayload);
    let i = 0;
    while (i < entries.length) {
      invariant(
        entries[i]!.index === this.last + 1,
        () => `entry ${entries[i]!.index} does not follow ${this.last}`,
      );
      // Without a rollover the write starts in this call, not a microtask later: a follower's
      // fsync then starts before the apply its AppendEntries also triggered (running-node drive).
      const seg = this.openTail() ?? (await this.segmentForAppend());
      const chunk = this.encoder.encode(entries, payloads, i, this.opts.maxSegmentSize - seg.bytes);
      try {
        await seg.append(chunk, {
          sync: this.syncNow(chunk.bytes, entries, i, chunk.terms.length),
          useFsync: this.opts.useFsync,
          inline: this.opts.inlineSync,
          inlineFsyncMsMax: this.opts.inlineFsyncMsMax,
          metrics: this.opts.metrics,
        });
      } catch (err) {
        // Cut the partial write off so no later append lands behind garbage; if even that fails
        // the storage stays failed and recovery truncates the torn tail on restart.
        await seg.discardUnindexedBytes().catch(() => undefined);
        throw ioError("append to log segment", seg.path, err);
      } finally {
        // The write is over (done or failed): an idle log holds no buffer (write-buffer-pool.ts).
        this.encoder.release();
      }
      for (let k = i; k < i + chunk.terms.length; k++) this.recent.push(entries[k]!);
      i += chunk.terms.length;
      this.last = seg.lastIndex;
    }
  }

  /**
   * braft's Segment::sync: with raft_sync, every append is synced, or under raft_sync_policy 1
   * once raft_sync_per_bytes are unsynced or the append holds a configuration entry (a new
   * configuration must not be lost, whatever the policy).
   */
  private syncNow(bytes: number, entries: readonly LogEntry[], from: number, count: number): boolean {
    if (!this.opts.sync) return false;
    this.unsyncedBytes += bytes;
    if (this.opts.syncByBytes && this.unsyncedBytes < this.opts.syncPerBytes) {
      const hasConf = entries
        .slice(from, from + count)
        .some((entry) => entry.type === EntryType.CONFIGURATION);
      if (!hasConf) return false;
    }
    this.unsyncedBytes = 0;
    return true;
  }

  /** The open segment to append to when it has room, else undefined (a rollover is due). */
  private openTail(): Segment | undefined {
    const tail = this.segments.at(-1);
    if (tail !== undefined && !tail.closed && tail.bytes < this.opts.maxSegmentSize) return tail;
    return undefined;
  }

  /** The open segment to append to, rolling over to a new one when it is full. */
  private async segmentForAppend(): Promise<Segment> {
    const open = this.openTail();
    if (open !== undefined) return open;
    const tail = this.segments.at(-1);
    try {
      if (tail !== undefined && !tail.closed) {
        const unsynced = !this.opts.sync || this.opts.syncByBytes;
        await tail.close(this.opts.syncSegments && unsynced, this.opts.useFsync);
      }
      const seg = await Segment.create(this.path, this.last + 1);
      this.segments.push(seg);
      // The new file's directory entry (and the rename) must survive a crash with its entries.
      if (this.opts.sync) await fsyncDir(this.path);
      return seg;
    } catch (err) {
      throw RaftError.is(err) ? err : ioError("roll over log segment in", this.path, err);
    }
  }

  private async doTruncatePrefix(firstIndexKept: number): Promise<void> {
    if (firstIndexKept <= this.first) return;
    if (firstIndexKept > this.last + 1) return this.doReset(firstIndexKept);
    // log_meta first: a crash then leaves extra segments that recovery deletes, never a gap.
    await this.saveMeta(firstIndexKept);
    this.first = firstIndexKept;
    this.recent.dropBefore(firstIndexKept);
    await this.removeSegmentsWhile((seg) => seg.lastIndex < firstIndexKept, "head");
  }

  private async doTruncateSuffix(keep: number): Promise<void> {
    if (keep >= this.last) return;
    this.recent.dropAfter(keep);
    // Newest files go first, so a crash in between leaves a contiguous (longer) log.
    await this.removeSegmentsWhile((seg) => seg.firstIndex > keep, "tail");
    const tail = this.segments.at(-1);
    try {
      if (tail !== undefined && tail.lastIndex > keep)
        await tail.truncateAfter(keep, this.opts.sync, this.opts.useFsync);
      if (this.opts.sync) await fsyncDir(this.path);
    } catch (err) {
      throw ioError("truncate log suffix in", tail?.path ?? this.path, err);
    }
    this.last = keep;
  }

  private async doReset(nextLogIndex: number): Promise<void> {
    await this.saveMeta(nextLogIndex);
    this.recent.clear();
    await this.removeSegmentsWhile(() => true, "tail");
    this.first = nextLogIndex;
    this.last = nextLogIndex - 1;
  }

  private async removeSegmentsWhile(pred: (seg: Segment) => boolean, end: "head" | "tail"): Promise<void> {
    for (;;) {
      const seg = end === "head" ? this.segments[0] : this.segments.at(-1);
      if (seg === undefined || !pred(seg)) break;
      try {
        await seg.remove();
      } catch (err) {
        throw ioError("remove log segment", seg.path, err);
      }
      if (end === "head") this.segments.shift();
      else this.segments.pop();
    }
    if (this.opts.sync)
      await fsyncDir(this.path).catch((err: unknown) => Promise.reject(ioError("sync", this.path, err)));
  }

  private async saveMeta(firstLogIndex: number): Promise<void> {
    await saveProtoBufFile(join(this.path, LOG_META_FILE), encodeLogMeta(firstLogIndex), this.opts.syncMeta);
  }

  /** Binary search: segments are sorted and contiguous. */
  private segmentOf(index: number): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const seg = this.segments[mid]!;
      if (index < seg.firstIndex) hi = mid - 1;
      else if (index > seg.lastIndex) lo = mid + 1;
      else return seg;
    }
    return undefined;
  }

  private checkOpen(): void {
    if (this.state !== "open") throw new RaftError("EINVAL", `log storage ${this.path} is ${this.state}`);
    const failure = this.queue.failure;
    if (failure !== undefined) throw failure;
  }
}

function payloadBytes(entries: readonly LogEntry[]): number {
  let bytes = 0;
  for (const entry of entries) bytes += ENTRY_HEADER_SIZE + entry.data.length;
  return bytes;
}

function checkIndex(index: number, min: number): void {
  if (!Number.isSafeInteger(index) || index < min)
    throw new RaftError("EINVAL", `invalid log index ${index}`);
}
