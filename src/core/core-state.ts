/**
 * The state a `RaftCore` keeps between inputs, as the protocol modules (election, replication,
 * snapshot, membership, transfer, lease, read-index, invariants) see it. Those modules are
 * functions over a `CoreState`; only `raft-machine.ts` implements it and only `RaftCore` (which
 * keeps it private) drives it, so nothing outside the core can change it, and no protocol
 * module imports the core back. The role is a tagged union (`RoleState`): what only a leader or
 * a candidate has exists only while it has that role.
 */
import type { CoreConfig } from "./config.js";
import type { ConfigurationManager } from "./configuration.js";
import type { RaftError } from "./errors.js";
import type { CoreEvent, PendingRead, Send } from "./events.js";
import type { OutboundRequest, Reply, SnapshotMetaData, TermLeader } from "./messages.js";
import type { Progress } from "./progress.js";
import type { VoterSets } from "./quorum.js";
import type { RaftLog } from "./raft-log.js";
import type { ConfigurationData, LogEntry, PeerKey, Role } from "./types.js";

/** The stages of a configuration change (membership.ts). */
export type ChangeStage = "catchingUp" | "joint" | "stable";

/** The configuration change a leader is carrying out (membership.ts). */
export interface MembershipChange {
  readonly target: ConfigurationData;
  stage: ChangeStage;
  /** Index of the configuration entry of the current stage, once appended. */
  entryIndex: number;
  /** The current catch-up period ends then: new peers must have caught up, or be progressing. */
  catchUpDeadlineMs: number;
  /** Where each new peer stood when the current catch-up period began. */
  readonly catchUpMarks: Map<PeerKey, CatchUpMark>;
}

/** A new peer's replication state at the start of a catch-up period. */
export interface CatchUpMark {
  readonly matchIndex: number;
  readonly installsSent: number;
  readonly installsRefused: number;
}

/** A leadership transfer in progress (transfer.ts). */
export interface TransferState {
  readonly target: PeerKey;
  readonly deadlineMs: number;
  timeoutNowSent: boolean;
  /** Sent in TimeoutNow: this leader will never serve lease reads again in its term. */
  readonly oldLeaderSteppedDown: boolean;
}

/** A (pre-)election in progress (election.ts). */
export interface VoteRound {
  readonly preVote: boolean;
  /** The term the round asks votes for (the next term for a pre-vote). */
  readonly term: number;
  /** Started by `vote()`: lease refusals count once the leader answered `disrupted`. */
  readonly triggered: boolean;
  readonly granted: Set<PeerKey>;
  readonly refused: Set<PeerKey>;
  /** Refused only by their lease; they count (or are asked again) once a leader is disrupted. */
  readonly reserved: Set<PeerKey>;
  disruptedLeader: TermLeader | undefined;
  /**
   * This node's own vote counts only once its own follower lease expired, or once the leader of
   * that lease voted for it (braft's grant_self): its own acks hold up that leader's lease too.
   */
  selfGranted: boolean;
}

/** The linearizable reads a leader is confirming (read-index.ts). */
export interface ReadRounds {
  add(core: CoreState, id: number, nowMs: number): void;
  onAck(core: CoreState, peer: PeerKey, seq: number, nowMs: number): void;
  onCommit(core: CoreState, nowMs: number): void;
  /** Leadership ended: every read fails. Returns their ids. */
  drain(): number[];
  /** No read is waiting or being confirmed (a group may quiesce only then). */
  idle(): boolean;
}

export type { PendingRead };

/** A leader's quiescence bookkeeping (in LeaderState). */
export interface LeaderQuiescence {
  quiet: boolean;
  /** Nothing has changed since then: the group may quiesce `quiesceIdleMs` later. */
  idleSinceMs: number;
  /** The leader's last index when last looked at: a new entry restarts the idle period. */
  lastIndexSeen: number;
  /**
   * No follower's ask to wake this leader can arrive late in this awake period: the period began
   * with the leadership itself, or a proposal woke the group (quiesce.ts `noteProposed`: its
   * followers woke on appends with new entries and asked nobody to wake). It may then quiesce
   * one heartbeat interval after it went idle instead of `quiesceIdleMs`.
   */
  shortIdle: boolean;
}

/** What only a leader has: it is created when a node takes office and dropped when it leaves. */
export interface LeaderState {
  /** Per-peer replication state. */
  readonly progress: Map<PeerKey, Progress>;
  /** The configuration change this leader is carrying out. */
  change: MembershipChange | undefined;
  /** A leadership transfer in progress; proposals are refused meanwhile. */
  transfer: TransferState | undefined;
  /** Linearizable reads waiting for this leader to confirm its leadership. */
  readonly reads: ReadRounds;
  /** Index of the configuration entry this leader appended on taking office. */
  readonly startIndex: number;
  heartbeatDeadlineMs: number;
  /** Check-quorum: the leader steps down then unless a quorum answered within a timeout. */
  stepDownDeadlineMs: number;
  /** Whether the group is quiet, and since when it has been idle (quiesce.ts). */
  readonly quiescence: LeaderQuiescence;
}

/** The role of a node, with the state that exists only in that role (etcd's StateType + fields). */
export type RoleState =
  | { readonly role: "leader"; readonly leader: LeaderState }
  | { readonly role: "candidate" | "preCandidate"; readonly votes: VoteRound }
  | { readonly role: "follower" | "error" | "shutdown" };

/** The leader's state, or undefined when `core` does not lead. */
export function leaderOf(core: { readonly roleState: RoleState }): LeaderState | undefined {
  return core.roleState.role === "leader" ? core.roleState.leader : undefined;
}

/** The election round of a (pre-)candidate, or undefined in any other role. */
export function votesOf(core: { readonly roleState: RoleState }): VoteRound | undefined {
  const state = core.roleState;
  return state.role === "candidate" || state.role === "preCandidate" ? state.votes : undefined;
}

/** The core's state and the transitions the protocol modules share. */
export interface CoreState {
  readonly config: CoreConfig;
  /** The role and the state only that role has; change it only through the `become*` methods. */
  readonly roleState: RoleState;
  readonly role: Role;
  term: number;
  votedFor: PeerKey;
  /** The leader of `term` once known, "" otherwise. */
  leaderId: PeerKey;
  readonly log: RaftLog;
  readonly confs: ConfigurationManager;
  /** Invariant: appliedIndex <= commitIndex <= log.lastIndex() (commit may pass persisted on followers). */
  commitIndex: number;
  appliedIndex: number;
  /** Last index durable on this node with the term we hold for it. */
  persistedIndex: number;
  /** braft's read-only mode: this node refuses new entries; a leader refuses them when it or a quorum is. */
  readonly: boolean;
  /** When this node last heard from a live leader; votes wait out its lease (lease.ts). */
  lastLeaderContactMs: number;
  /** The leader whose messages renewed that lease (braft's FollowerLease::last_leader). */
  leaseLeaderId: PeerKey;
  /** braft's lease epoch: one more with each leadership and each transfer that timed out. */
  leaseEpoch: number;
  /**
   * This node led `ledTerm` and stepped down to `toTerm` on a newer term (election.ts: its answer
   * to that term's candidate still says the leader was disrupted).
   */
  deposed: { readonly ledTerm: number; readonly toTerm: number } | undefined;
  /** Follower and (pre-)candidate: when the election timer fires. */
  electionDeadlineMs: number;
  /** A follower of a quiet group: no election timer while its leader's process is alive (quiesce.ts). */
  quiet: boolean;

  voters(): VoterSets;
  isActive(): boolean;
  notLeaderError(): RaftError;
  isReadOnly(): boolean;
  send(message: OutboundRequest, nowMs: number, options: { afterPersist: boolean; heartbeat: boolean }): Send;
  nextSeq(): number;
  reply(reply: Reply): void;
  emit(event: CoreEvent): void;
  /** Records a vote; it is persisted before any reply that depends on it. */
  setVote(candidate: PeerKey): void;
  resetElectionDeadline(nowMs: number): void;
  followerLeaseEndsAtMs(): number;
  inFollowerLease(nowMs: number): boolean;
  expireFollowerLease(): void;
  becomeFollower(term: number, leaderId: PeerKey, nowMs: number, reason: string): void;
  campaign(nowMs: number, triggered?: boolean): void;
  becomeCandidate(nowMs: number, disruptedLeader?: TermLeader): void;
  becomeLeader(nowMs: number): void;
  appendLocal(entries: readonly LogEntry[]): void;
  acceptLeader(term: number, leaderId: PeerKey, nowMs: number): boolean;
  resetToSnapshot(meta: SnapshotMetaData, logReset: boolean): void;
  setLeader(leaderId: PeerKey, nowMs: number, reason: string): void;
  /** A follower's progress or the commit index moved: a configuration change may go on. */
  advanceChange(nowMs: number): void;
  /** Sends heartbeats to every follower now (a read round, or a leadership check). */
  heartbeatNow(nowMs: number): void;
  transferLeadership(target: PeerKey | undefined, nowMs: number): RaftError | undefined;
}
