/**
 * braft's global knobs, with braft's names and defaults. `flags` holds the process-wide values
 * (readable and settable at run time); a node reads them once at init, merged with the per-node
 * overrides in NodeOptions.flags, so nothing deep in the code reads a global.
 */

export interface RaftFlags {
  /** fsync every log append. */
  raft_sync: boolean;
  /** Roll a log segment over past this size. */
  raft_max_segment_size: number;
  /** Entries per AppendEntries request. */
  raft_max_entries_size: number;
  /** Data bytes per AppendEntries request. */
  raft_max_body_size: number;
  /** Bytes per snapshot file chunk. */
  raft_max_byte_count_per_rpc: number;
  /** Applies merged into one proposal batch. */
  raft_apply_batch: number;
  /** Proposal batches merged into one log write on the leader. */
  raft_leader_batch: number;
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
   * 0 never quiesces.
   */
  tsraft_quiesce_after_heartbeats: number;
}

/** braft's defaults (tsraft's where braft has no such flag). */
export const defaultFlags: Readonly<RaftFlags> = Object.freeze({
  raft_sync: true,
  raft_max_segment_size: 8 * 1024 * 1024,
  raft_max_entries_size: 1024,
  raft_max_body_size: 512 * 1024,
  raft_max_byte_count_per_rpc: 128 * 1024,
  raft_apply_batch: 32,
  raft_leader_batch: 256,
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

/** The flags a node runs with: process-wide values overridden by the node's own. */
export function resolveFlags(overrides: Partial<RaftFlags> = {}): Readonly<RaftFlags> {
  return Object.freeze({ ...flags, ...overrides });
}
