/**
 * braft's global knobs, with braft's names and defaults. `flags` holds the process-wide values
 * (readable and settable at run time); a node reads them once at init, merged with the per-node
 * overrides in NodeOptions.flags, so nothing deep in the code reads a global.
 */
import { RAFT_META_WRITE_BATCH_DEFAULT } from "../storage/local/options.js";

export interface RaftFlags {
  /** fsync log appends (when, see raft_sync_policy). */
  raft_sync: boolean;
  /**
   * When raft_sync is on: 0 (braft's RAFT_SYNC_IMMEDIATELY) fsyncs every append; 1
   * (RAFT_SYNC_BY_BYTES) fsyncs once raft_sync_per_bytes unsynced bytes accumulated, or when the
   * append holds a configuration entry. With 1, an acknowledged write may be lost on power loss.
   */
  raft_sync_policy: number;
  /** Unsynced log bytes that trigger an fsync under raft_sync_policy 1. */
  raft_sync_per_bytes: number;
  /** fsync log_meta, raft_meta and snapshot meta even when raft_sync is off. */
  raft_sync_meta: boolean;
  /** fsync a log segment when it is closed (matters only when appends are not each synced). */
  raft_sync_segments: boolean;
  /** Create missing parent directories of local storage paths. */
  raft_create_parent_directories: boolean;
  /** fsync rather than fdatasync. */
  raft_use_fsync_rather_than_fdatasync: boolean;
  /**
   * At open, cut off a last log segment's tail whose entry fails its checksum. Off (braft's
   * default), only an incomplete tail (a write a crash interrupted) is cut and a checksum failure
   * refuses to open. tsraft's default is on: see docs/decisions.md, "braft's whole surface".
   */
  raft_recover_log_from_corrupt: boolean;
  /** Merged raft meta writes (local-merged://) batched into one file write (braft: 128; tsraft: 4096). */
  raft_meta_write_batch: number;
  /** Roll a log segment over past this size. */
  raft_max_segment_size: number;
  /** Entries per AppendEntries request. */
  raft_max_entries_size: number;
  /** Data bytes per AppendEntries request. */
  raft_max_body_size: number;
  /** Bytes a follower asks for per get_file call when it copies a snapshot. */
  raft_max_byte_count_per_rpc: number;
  /** apply() tasks proposed together at most; the rest wait for the next batch (braft's apply queue). */
  raft_apply_batch: number;
  /** Proposal batches merged into one log write on the leader. */
  raft_leader_batch: number;
  /** A merged log write also ends once its entries hold this many data bytes. */
  raft_max_append_buffer_size: number;
  /** Committed entries handed to one onApply call at most. */
  raft_fsm_caller_commit_batch: number;
  /** Connect timeout of the channels a RaftServer dials (process-wide: channels are shared). */
  raft_rpc_channel_connect_timeout_ms: number;
  /** heartbeat interval = election timeout / this factor. */
  raft_election_heartbeat_factor: number;
  raft_enable_leader_lease: boolean;
  /** Upper bound of the random part of election timeouts. */
  raft_max_election_delay_ms: number;
  raft_step_down_when_vote_timedout: boolean;
  /**
   * AppendEntries in flight per follower. braft's default is 1; tsraft pipelines by default
   * (8), which hides a round trip plus the follower's fsync under load. Set 1 for braft's behaviour.
   */
  raft_max_parallel_append_entries_rpc_num: number;
  raft_do_snapshot_min_index_gap: number;
  raft_max_install_snapshot_tasks_num: number;
  /** How long a leader waits before sending again to a follower that answered EBUSY. */
  raft_retry_replicate_interval_ms: number;
  /**
   * Witnesses get entry data and may campaign (after twice the election timeout), leading only
   * until an up-to-date full replica takes over (NodeOptions.witness, docs/witness.md).
   */
  raft_enable_witness_to_leader: boolean;
  /** Beyond braft: applies waiting to commit before apply() fails with EBUSY. */
  tsraft_max_pending_applies: number;
  /**
   * Beyond braft: an idle leader quiesces its group after this many heartbeat intervals with
   * nothing to do, when every peer's server speaks tsraft's LivenessService (docs/quiescence.md);
   * after at most one in a new leadership or when a write woke the group ("A new leader", "A
   * write on a quiet group"); 0 never quiesces.
   */
  tsraft_quiesce_after_heartbeats: number;
}

/** braft's sync policies (raft_sync_policy). */
export const RaftSyncPolicy = { RAFT_SYNC_IMMEDIATELY: 0, RAFT_SYNC_BY_BYTES: 1 } as const;

/**
 * braft's defaults (tsraft's where braft has no such flag), except raft_recover_log_from_corrupt
 * and raft_max_parallel_append_entries_rpc_num: see their notes.
 */
export const defaultFlags: Readonly<RaftFlags> = Object.freeze({
  raft_sync: true,
  raft_sync_policy: 0,
  raft_sync_per_bytes: 2147483647,
  raft_sync_meta: false,
  raft_sync_segments: false,
  raft_create_parent_directories: true,
  raft_use_fsync_rather_than_fdatasync: true,
  raft_recover_log_from_corrupt: true,
  raft_meta_write_batch: RAFT_META_WRITE_BATCH_DEFAULT,
  raft_max_segment_size: 8 * 1024 * 1024,
  raft_max_entries_size: 1024,
  raft_max_body_size: 512 * 1024,
  raft_max_byte_count_per_rpc: 128 * 1024,
  raft_apply_batch: 32,
  raft_leader_batch: 256,
  raft_max_append_buffer_size: 256 * 1024,
  raft_fsm_caller_commit_batch: 512,
  raft_rpc_channel_connect_timeout_ms: 200,
  raft_election_heartbeat_factor: 10,
  raft_enable_leader_lease: false,
  raft_max_election_delay_ms: 1000,
  raft_step_down_when_vote_timedout: true,
  raft_max_parallel_append_entries_rpc_num: 8,
  raft_do_snapshot_min_index_gap: 1,
  raft_max_install_snapshot_tasks_num: 1000,
  raft_retry_replicate_interval_ms: 1000,
  raft_enable_witness_to_leader: false,
  tsraft_max_pending_applies: 65536,
  tsraft_quiesce_after_heartbeats: 3,
});

/** The process-wide flag values; change them before creating nodes (or per node in NodeOptions). */
export const flags: RaftFlags = { ...defaultFlags };

/**
 * The last flags resolved without overrides. Nodes that take the process-wide values share one
 * frozen copy while those values do not change: a copy per node cost an idle group about 1 KiB
 * (docs/quiescence.md, "Cost").
 */
let sharedResolved: Readonly<RaftFlags> | undefined;

/** The flags a node runs with: process-wide values overridden by the node's own. */
export function resolveFlags(overrides: Partial<RaftFlags> = {}): Readonly<RaftFlags> {
  if (Object.keys(overrides).length > 0) return Object.freeze({ ...flags, ...overrides });
  if (sharedResolved === undefined || !sameFlags(sharedResolved, flags)) {
    sharedResolved = Object.freeze({ ...flags });
  }
  return sharedResolved;
}

function sameFlags(a: Readonly<RaftFlags>, b: Readonly<RaftFlags>): boolean {
  for (const name of Object.keys(b) as (keyof RaftFlags)[]) if (a[name] !== b[name]) return false;
  return true;
}
