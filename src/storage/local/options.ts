/** Options of the local storages, named and defaulted as braft's gflags so its docs apply. */
import { RaftError } from "../../core/errors.js";
import { globalLogger, type LogFields } from "../../env/logger.js";
import type { StorageOwner } from "./dir-lock.js";

/** Where the storages report what recovery repaired (a tsraft Logger, console, or anything with `warn`). */
export interface StorageLogger {
  warn(message: string, fields?: LogFields): void;
}

/** Where the log reports its fsync latency (a node's metrics). */
export interface StorageMetrics {
  observeFsync(seconds: number): void;
}

/** Per-storage forms of braft's storage flags (braft's names and defaults). */
export interface LocalStorageOptions {
  /** Resolve writes only once fsynced. braft default true. */
  readonly raft_sync?: boolean;
  /**
   * With raft_sync on: 0 fsyncs every append (braft default), 1 only once raft_sync_per_bytes
   * unsynced bytes accumulated or the append holds a configuration entry.
   */
  readonly raft_sync_policy?: number;
  /** Unsynced bytes that trigger an fsync under raft_sync_policy 1. braft default INT32_MAX. */
  readonly raft_sync_per_bytes?: number;
  /** Cut a last segment's checksum-failing tail at open (else refuse). tsraft default true, braft false. */
  readonly raft_recover_log_from_corrupt?: boolean;
  /** local-merged:// raft meta: writes batched into one file write at most. braft default 128. */
  readonly raft_meta_write_batch?: number;
  /** fsync log_meta, raft_meta and snapshot meta even when raft_sync is off. braft default false. */
  readonly raft_sync_meta?: boolean;
  /** fsync a segment when it is closed (matters only when raft_sync is off). braft default false. */
  readonly raft_sync_segments?: boolean;
  /** A segment rolls over once it holds this many bytes. braft default 8 MiB. */
  readonly raft_max_segment_size?: number;
  /** Create missing parent directories of storage paths. braft default true. */
  readonly raft_create_parent_directories?: boolean;
  /** fsync rather than fdatasync. braft default true. */
  readonly raft_use_fsync_rather_than_fdatasync?: boolean;
  /** Bound of the recent-entries cache that serves reads without I/O (tsraft's own knob). */
  readonly recentEntriesMax?: number;
  /** Byte bound of the same cache. */
  readonly recentBytesMax?: number;
  /** Receives recovery reports (torn tails truncated). Defaults to the process-wide logger (setLogger). */
  readonly logger?: StorageLogger | undefined;
  /** Receives the latency of each log fsync; none when absent. */
  readonly metrics?: StorageMetrics | undefined;
  /**
   * Write and fsync log appends on the event loop when no other log write of the process is in
   * flight (lower latency; see segment-writer.ts). tsraft's own knob: default true, or false when
   * the environment sets TSRAFT_INLINE_SYNC=0.
   */
  readonly inlineSync?: boolean;
  /**
   * With inlineSync, a log fsync of this process that took longer than this many milliseconds
   * sends the next appends to the threadpool, until one is this quick again (default 1; see
   * segment-writer.ts). Infinity keeps every append inline.
   */
  readonly inlineFsyncMsMax?: number;
  /**
   * Who opens the storage. A node passes its group and peer: they are recorded in the directory
   * and checked at every later open. Storages opened with the same owner object may share a
   * directory; any other opener is refused while they hold it. Default: an anonymous owner of its
   * own (no record, no sharing).
   */
  readonly owner?: StorageOwner | undefined;
  /**
   * Lock the directory for the storage's lifetime (tsraft's own knob, default true). Only the
   * process-private `memory://` snapshot directories turn it off.
   */
  readonly lockDirectory?: boolean;
}

/** {@link LocalStorageOptions} with every default applied. */
export interface ResolvedLocalOptions {
  readonly sync: boolean;
  /** raft_sync_policy is RAFT_SYNC_BY_BYTES: appends fsync only every `syncPerBytes`. */
  readonly syncByBytes: boolean;
  readonly syncPerBytes: number;
  readonly recoverFromCorrupt: boolean;
  readonly metaWriteBatch: number;
  readonly syncMeta: boolean;
  readonly syncSegments: boolean;
  readonly maxSegmentSize: number;
  readonly createParentDirectories: boolean;
  readonly useFsync: boolean;
  readonly recentEntriesMax: number;
  readonly recentBytesMax: number;
  readonly logger: StorageLogger;
  readonly metrics: StorageMetrics | undefined;
  readonly inlineSync: boolean;
  readonly inlineFsyncMsMax: number;
  readonly owner: StorageOwner | undefined;
  readonly lockDirectory: boolean;
}

/**
 * Records per write and fsync of a merged raft meta file. braft's default is 128; tsraft's is
 * larger because a kill of a process leading thousands of quiet groups makes the survivors vote
 * for all of them at once, and each batch waited for the last one's fsync, behind every group's
 * log writes on libuv's threadpool (docs/decisions.md). A record is about 50 bytes.
 */
export const RAFT_META_WRITE_BATCH_DEFAULT = 4096;

/** 8 MiB: braft's raft_max_segment_size. */
export const RAFT_MAX_SEGMENT_SIZE_DEFAULT = 8 * 1024 * 1024;

/**
 * The cache only has to cover what replication to a follower that is slightly behind reads back;
 * the LogManager keeps its own unflushed tail. 4096 entries cover a few raft_leader_batch rounds
 * of small entries. The byte bound is one full replication window, braft's defaults
 * raft_max_parallel_append_entries_rpc_num (8) x raft_max_body_size (512 KiB) = 4 MiB: a
 * follower further behind is catching up and reads from the segment (the page cache), as every
 * follower does in braft, which keeps no cache beyond the entries not yet applied. 16 MiB held
 * 256 entries of 64 KiB per log for nothing (docs/decisions.md, "Large entries").
 */
const RECENT_ENTRIES_MAX_DEFAULT = 4096;

/**
 * An inline fsync blocks the event loop for as long as it takes; it saves one threadpool hop
 * (about 0.4 ms measured, segment-writer.ts). A quick fsync (0.3 ms for a small append on an idle
 * disk) is worth blocking for; one of several milliseconds (a batch of 64 KiB entries, a disk
 * shared with other work) is not: meanwhile no answer is read and no request batched.
 */
const INLINE_FSYNC_MS_MAX_DEFAULT = 1;
const RECENT_BYTES_MAX_DEFAULT = 4 * 1024 * 1024;

/** Applies braft's defaults. raft meta is synced when raft_sync or raft_sync_meta is on, as in braft. */
export function resolveLocalOptions(options: LocalStorageOptions = {}): ResolvedLocalOptions {
  const sync = options.raft_sync ?? true;
  const maxSegmentSize = options.raft_max_segment_size ?? RAFT_MAX_SEGMENT_SIZE_DEFAULT;
  if (!Number.isInteger(maxSegmentSize) || maxSegmentSize <= 0) {
    throw new RaftError("EINVAL", `raft_max_segment_size must be a positive integer, got ${maxSegmentSize}`);
  }
  return {
    sync,
    syncByBytes: options.raft_sync_policy === 1,
    syncPerBytes: options.raft_sync_per_bytes ?? 2147483647,
    recoverFromCorrupt: options.raft_recover_log_from_corrupt ?? true,
    metaWriteBatch: options.raft_meta_write_batch ?? RAFT_META_WRITE_BATCH_DEFAULT,
    syncMeta: sync || (options.raft_sync_meta ?? false),
    syncSegments: options.raft_sync_segments ?? false,
    maxSegmentSize,
    createParentDirectories: options.raft_create_parent_directories ?? true,
    useFsync: options.raft_use_fsync_rather_than_fdatasync ?? true,
    recentEntriesMax: options.recentEntriesMax ?? RECENT_ENTRIES_MAX_DEFAULT,
    recentBytesMax: options.recentBytesMax ?? RECENT_BYTES_MAX_DEFAULT,
    logger: options.logger ?? globalLogger,
    metrics: options.metrics,
    inlineSync: options.inlineSync ?? process.env.TSRAFT_INLINE_SYNC !== "0",
    inlineFsyncMsMax: options.inlineFsyncMsMax ?? INLINE_FSYNC_MS_MAX_DEFAULT,
    owner: options.owner,
    lockDirectory: options.lockDirectory ?? true,
  };
}
