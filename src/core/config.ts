/**
 * The knobs of the core, with braft's defaults applied by the shell. The three timing fields may
 * change at run time (braft's reset_election_timeout_ms, see lease.ts); the rest are fixed at init.
 */
import type { PeerKey } from "./types.js";

export interface CoreConfig {
  readonly groupId: string;
  readonly self: PeerKey;
  /** braft's election_timeout_ms: followers start an election after this long without a leader. */
  electionTimeoutMs: number;
  /** raft_max_election_delay_ms: the random part added to election timeouts. */
  readonly maxElectionDelayMs: number;
  /** election_timeout_ms / raft_election_heartbeat_factor. */
  heartbeatIntervalMs: number;
  /** raft_election_heartbeat_factor, to recompute the interval when the timeout changes (10). */
  readonly electionHeartbeatFactor?: number;
  /**
   * braft's max_clock_drift_ms: followers refuse votes for election timeout + this after last
   * hearing from their leader, so a leader's lease (one election timeout) survives clock drift.
   */
  maxClockDriftMs: number;
  /** raft_enable_leader_lease. */
  readonly leaderLeaseEnabled: boolean;
  /** raft_step_down_when_vote_timedout: a timed-out candidate goes back to pre-vote. */
  readonly stepDownWhenVoteTimedOut: boolean;
  /**
   * raft_max_parallel_append_entries_rpc_num: appends in flight per follower. Bounds the
   * leader's memory per slow follower while letting a fast one stream without round-trip stalls.
   */
  readonly inflightAppendsMax: number;
  /** raft_max_entries_size: entries per AppendEntries. */
  readonly appendEntriesMax: number;
  /** raft_max_body_size: data bytes per AppendEntries (at least one entry is always sent). */
  readonly appendBytesMax: number;
  /** A new peer joins once its log is within this many entries of the leader's (braft's catchup_margin). */
  readonly catchupMargin: number;
  /**
   * braft's catchup_timeout_ms: a change waits this long for new peers before it checks whether
   * they are still alive and making progress (0: the election timeout, braft's default).
   */
  readonly catchupTimeoutMs: number;
  /**
   * tsraft's quiescence (quiesce.ts): a leader idle this long quiesces its group; 0 or absent: never.
   */
  readonly quiesceIdleMs?: number | undefined;
  /**
   * Whether `peer` may be asked to quiesce (its process speaks tsraft's LivenessService); absent:
   * no peer may, so the group never quiesces. Asked at each heartbeat of an idle leader.
   */
  readonly quiescePeer?: ((peer: PeerKey) => boolean) | undefined;
  /**
   * Whether `peer`'s process is dead to this one (silent for an election timeout, or never heard):
   * an idle leader quiesces without it when the rest make a quorum, and wakes when it is heard
   * again (docs/quiescence.md, "A dead follower"). Absent: no peer is dead.
   */
  readonly quiescePeerDead?: ((peer: PeerKey) => boolean) | undefined;
  /**
   * braft's NodeOptions::witness: this node votes and acknowledges entries but keeps no state
   * machine. It never campaigns unless `witnessToLeader` is set (witness.ts).
   */
  readonly witness?: boolean | undefined;
  /**
   * raft_enable_witness_to_leader: witnesses get entry data, and a witness may campaign (after
   * twice the election timeout) to lead just long enough to hand leadership to a full replica.
   */
  readonly witnessToLeader?: boolean | undefined;
  /**
   * Whether a peer of the configuration is a witness (braft's PeerId role 1). The shell reads
   * the role from the peer's text form; the core parses none (absent: no peer is a witness).
   */
  readonly isWitnessPeer?: ((peer: PeerKey) => boolean) | undefined;
  /** A uniform random number in [0, 1): the shell injects a seeded source in simulation. */
  readonly random: () => number;
}
