/**
 * The core's state and its role transitions (etcd's `raft` struct with its `become*` methods):
 * the one implementation of {@link CoreState}. Internal to the core: `RaftCore` owns one,
 * privately, and the protocol modules change it through the `CoreState` interface.
 * Role changes happen only in the `become*` methods and `campaign`.
 */
import type { CoreConfig } from "./config.js";
import type { ConfigurationManager } from "./configuration.js";
import { replicationTargets, voterSets } from "./configuration.js";
import { leaderOf, votesOf, type CoreState, type LeaderState, type RoleState } from "./core-state.js";
import { RaftError, invariant } from "./errors.js";
import type { CoreEvent, Ready, Send } from "./events.js";
import { newVoteRound, otherVoters, requestVotes, tallyVotes } from "./election.js";
import type { OutboundRequest, Reply, SnapshotMetaData, TermLeader } from "./messages.js";
import { Progress } from "./progress.js";
import { isVoter, quorumVoteResult, type VoterSets } from "./quorum.js";
import { RaftLog, type LogReader } from "./raft-log.js";
import { ReadIndexTracker } from "./read-index.js";
import { advanceChange, dropChange, resumeJointChange } from "./membership.js";
import { startTransfer } from "./transfer.js";
import { checkInvariants, checkReady } from "./invariants.js";
import { firstToCampaign } from "./campaign-order.js";
import { electionTimerMs, mayCampaign } from "./witness.js";
import { broadcastHeartbeats, maybeCommit, sendAppends } from "./replication.js";
import { handleSnapshotResult } from "./snapshot.js";
import { clearFollowerQuiet, newLeaderQuiescence } from "./quiesce.js";
import {
  EMPTY_DATA,
  EntryType,
  type ConfigurationData,
  type HardState,
  type LogEntry,
  type PeerKey,
  type Role,
} from "./types.js";

/** One proposed entry; `expectedTerm` rejects it unless this leader's term matches. */
export interface Proposal {
  readonly type: EntryType;
  readonly data: Uint8Array;
  readonly conf?: ConfigurationData | undefined;
  readonly expectedTerm?: number | undefined;
}

export const NO_DEADLINE = Number.POSITIVE_INFINITY;

export class RaftMachine implements CoreState {
  roleState: RoleState = { role: "follower" };
  term: number;
  votedFor: PeerKey;
  /** The leader of `term` once known, "" otherwise. */
  leaderId: PeerKey = "";
  readonly log: RaftLog;
  readonly confs: ConfigurationManager;
  /** Invariant: appliedIndex <= commitIndex <= log.lastIndex() (commit may pass persisted on followers). */
  commitIndex = 0;
  appliedIndex = 0;
  /** Last index durable on this node with the term we hold for it. */
  persistedIndex: number;
  /** braft's read-only mode: this node refuses new entries; a leader refuses them when it or a quorum is. */
  readonly = false;
  /** When this node last heard from a live leader; votes wait out its lease (lease.ts). */
  lastLeaderContactMs = Number.NEGATIVE_INFINITY;
  /** The leader whose messages renewed that lease (braft's FollowerLease::last_leader). */
  leaseLeaderId: PeerKey = "";
  /** braft's lease epoch: one more with each leadership and each transfer that timed out. */
  leaseEpoch = 0;
  deposed: { readonly ledTerm: number; readonly toTerm: number } | undefined;

  electionDeadlineMs = NO_DEADLINE;
  /** A follower of a quiet group (quiesce.ts). */
  quiet = false;

  private seq = 1;
  private hardStateDirty = false;
  private sendsNow: Send[] = [];
  private sendsAfterPersist: Send[] = [];
  private replies: Reply[] = [];
  private events: CoreEvent[] = [];
  /** `applyThroughIndex` of the last Ready: a higher one is news even when nothing else is. */
  private readyApplyThroughIndex = 0;

  constructor(
    readonly config: CoreConfig,
    hardState: HardState,
    storage: LogReader,
    confs: ConfigurationManager,
    nowMs: number,
    /** Last index covered by the snapshot the state machine was loaded from (0 without one). */
    snapshotIndex = 0,
  ) {
    this.term = hardState.term;
    this.votedFor = hardState.votedFor;
    this.log = new RaftLog(storage);
    this.confs = confs;
    this.persistedIndex = storage.lastIndex();
    // A snapshot holds only committed entries, and the state machine starts from it.
    this.commitIndex = snapshotIndex;
    this.appliedIndex = snapshotIndex;
    // braft's FollowerLease::init: after a restart this node may have acknowledged a leader just
    // before, and that leader's lease may count on it; it waits a whole lease before voting.
    if (config.leaderLeaseEnabled) this.lastLeaderContactMs = nowMs;
    this.resetElectionDeadline(nowMs);
  }

  /** Everything produced since the last call. */
  takeReady(): Ready {
    const entries = this.log.takeEntriesToPersist();
    const ready: Ready = {
      hardState: this.hardStateDirty ? { term: this.term, votedFor: this.votedFor } : undefined,
      entries,
      sendsNow: this.sendsNow,
      sendsAfterPersist: this.sendsAfterPersist,
      replies: this.replies,
      events: this.events,
      applyThroughIndex: this.applyThroughIndex(),
    };
    this.readyApplyThroughIndex = ready.applyThroughIndex;
    this.hardStateDirty = false;
    this.sendsNow = [];
    this.sendsAfterPersist = [];
    this.replies = [];
    this.events = [];
    checkInvariants(this);
    checkReady(this, ready);
    return ready;
  }

  hasReady(): boolean {
    return (
      this.hardStateDirty ||
      this.log.hasEntriesToPersist() ||
      this.sendsNow.length > 0 ||
      this.sendsAfterPersist.length > 0 ||
      this.replies.length > 0 ||
      this.events.length > 0 ||
      this.applyThroughIndex() > this.readyApplyThroughIndex
    );
  }

  /** How far the state machine may apply: committed, and durable on this node. */
  private applyThroughIndex(): number {
    return Math.min(this.commitIndex, this.persistedIndex);
  }

  voters(): VoterSets {
    return voterSets(this.confs.last().conf);
  }

  get role(): Role {
    return this.roleState.role;
  }

  isActive(): boolean {
    return this.role !== "error" && this.role !== "shutdown";
  }

  /** A leader is read-only when it is, or when a quorum of its voters is (braft). */
  isReadOnly(): boolean {
    if (this.readonly) return true;
    if (this.role !== "leader") return false;
    const readonlyVote = (peer: PeerKey): boolean | undefined =>
      peer === this.config.self ? this.readonly : (leaderOf(this)?.progress.get(peer)?.readonly ?? false);
    return (
      quorumVoteResult(this.voters(), (peer) => (readonlyVote(peer) === true ? true : undefined)) === "won"
    );
  }

  /** The error a non-leader gives a client, with the leader to redirect to. */
  notLeaderError(): RaftError {
    if (this.role === "error") return new RaftError("EPERM", "node is in the ERROR state");
    if (this.role === "shutdown") return new RaftError("ESHUTDOWN", "node is shut down");
    const leader = this.leaderId === "" ? "unknown" : this.leaderId;
    return new RaftError("EPERM", `not the leader (leader: ${leader})`, {
      leaderId: this.leaderId === "" ? undefined : this.leaderId,
    });
  }

  send(
    message: OutboundRequest,
    nowMs: number,
    options: { afterPersist: boolean; heartbeat: boolean },
  ): Send {
    const send: Send = { seq: this.seq++, message, heartbeat: options.heartbeat, createdAtMs: nowMs };
    (options.afterPersist ? this.sendsAfterPersist : this.sendsNow).push(send);
    return send;
  }

  nextSeq(): number {
    return this.seq;
  }

  reply(reply: Reply): void {
    this.replies.push(reply);
  }

  emit(event: CoreEvent): void {
    this.events.push(event);
  }

  /** Records a vote; it is persisted before any reply that depends on it. */
  setVote(candidate: PeerKey): void {
    this.votedFor = candidate;
    this.hardStateDirty = true;
  }

  resetElectionDeadline(nowMs: number): void {
    if (!mayCampaign(this.config)) {
      this.electionDeadlineMs = NO_DEADLINE; // braft starts no election timer on such a witness
      return;
    }
    const timerMs = electionTimerMs(this.config);
    const jitterMaxMs = Math.min(timerMs, this.config.maxElectionDelayMs);
    const jitter = Math.floor(this.config.random() * jitterMaxMs);
    // A group's first election: one voter per group goes first, so leaders spread over the
    // processes (campaign-order.ts). The others wait until its timer has run out whatever its
    // random delay, and one more timeout for a process that started its groups later.
    const notFirstMs = this.term === 0 && !firstToCampaign(this) ? timerMs + jitterMaxMs : 0;
    this.electionDeadlineMs = nowMs + timerMs + jitter + notFirstMs;
  }

  /**
   * When this node may vote again after last hearing from its leader (braft's FollowerLease).
   * The drift allowance counts only with leader leases; without them the wait just keeps a live
   * leader from being deposed (tsraft keeps it always, braft only with leases).
   */
  followerLeaseEndsAtMs(): number {
    const drift = this.config.leaderLeaseEnabled ? this.config.maxClockDriftMs : 0;
    return this.lastLeaderContactMs + this.config.electionTimeoutMs + drift;
  }

  /** Whether a vote for anyone (itself included) could undercut a leader this node still hears from. */
  inFollowerLease(nowMs: number): boolean {
    return nowMs < this.followerLeaseEndsAtMs();
  }

  /** Its leader stepped down for a candidate: this node may vote at once (braft's expire()). */
  expireFollowerLease(): void {
    this.lastLeaderContactMs = Number.NEGATIVE_INFINITY;
  }

  /** Adopts a newer term (always) and follows `leaderId` ("" when unknown). */
  becomeFollower(term: number, leaderId: PeerKey, nowMs: number, reason: string): void {
    invariant(term >= this.term, () => `term going back from ${this.term} to ${term}`);
    if (this.role === "leader" && term > this.term) this.deposed = { ledTerm: this.term, toTerm: term };
    if (this.role === "leader" || this.role === "candidate" || this.role === "preCandidate") {
      this.leaveRole(nowMs, reason);
    }
    if (term > this.term) {
      if (this.leaderId !== "") this.setLeader("", nowMs, reason);
      this.term = term;
      this.votedFor = "";
      this.hardStateDirty = true;
    }
    this.setRole({ role: "follower" });
    if (leaderId !== "") this.setLeader(leaderId, nowMs, reason);
    this.resetElectionDeadline(nowMs);
  }

  /** A node that is the only voter elects itself at once instead of waiting out a timeout (braft). */
  campaignIfSoleVoter(nowMs: number): void {
    const sets = this.voters();
    const alone = sets.current.length === 1 && sets.current[0] === this.config.self && sets.old.length === 0;
    if (!alone || this.role !== "follower") return;
    this.expireFollowerLease(); // no other voter can hold a lease that counts on this one
    this.campaign(nowMs);
  }

  /**
   * Starts an election: a pre-vote round first (braft), so a partitioned node cannot inflate
   * terms. `triggered`: the operator asked for it (vote()), see election.ts.
   */
  campaign(nowMs: number, triggered = false): void {
    if (!isVoter(this.voters(), this.config.self) || !mayCampaign(this.config)) {
      this.resetElectionDeadline(nowMs);
      return;
    }
    const votes = newVoteRound(this, true, this.term + 1, triggered, nowMs);
    this.setRole({ role: "preCandidate", votes });
    this.emit({ type: "electionStarted", preVote: true, term: this.term });
    this.resetElectionDeadline(nowMs);
    requestVotes(this, otherVoters(this), true, undefined, nowMs);
    tallyVotes(this, nowMs);
    checkInvariants(this);
  }

  /** A real election in a new term; `disruptedLeader` when the old leader already stepped down. */
  becomeCandidate(nowMs: number, disruptedLeader?: TermLeader): void {
    // The round asks for the term this election starts (computed first, the role needs it).
    const votes = newVoteRound(this, false, this.term + 1, false, nowMs, disruptedLeader);
    this.setRole({ role: "candidate", votes });
    this.term++;
    this.setVote(this.config.self);
    this.emit({ type: "electionStarted", preVote: false, term: this.term });
    if (this.leaderId !== "") this.setLeader("", nowMs, "election started");
    this.resetElectionDeadline(nowMs);
    requestVotes(this, otherVoters(this), false, disruptedLeader, nowMs);
    tallyVotes(this, nowMs);
  }

  becomeLeader(nowMs: number): void {
    invariant(this.role === "candidate", () => `becoming leader from ${this.role}`);
    const next = this.log.lastIndex() + 1;
    const leader = this.newLeaderState(next, nowMs);
    this.setRole({ role: "leader", leader });
    this.leaderId = this.config.self;
    // braft resets the follower lease of a new leader and starts a new leader lease.
    this.expireFollowerLease();
    this.leaseLeaderId = "";
    this.leaseEpoch++;
    this.electionDeadlineMs = NO_DEADLINE;
    // braft appends the current configuration on taking office: committing it commits every
    // earlier entry, and its application tells the state machine the leader is ready.
    const confEntry = this.makeEntry(next, {
      type: EntryType.CONFIGURATION,
      data: EMPTY_DATA,
      conf: this.confs.last().conf,
    });
    this.appendLocal([confEntry]);
    resumeJointChange(this, leader);
    this.emit({ type: "leaderStart", term: this.term, confIndex: next });
    sendAppends(this, nowMs);
    maybeCommit(this, nowMs);
  }

  /** What a leader starts with: a probe for every follower from `next`, and its timers. */
  private newLeaderState(next: number, nowMs: number): LeaderState {
    const progress = new Map<PeerKey, Progress>();
    for (const peer of replicationTargets(this.confs.last().conf)) {
      if (peer !== this.config.self) progress.set(peer, new Progress(next, nowMs));
    }
    return {
      progress,
      change: undefined,
      transfer: undefined,
      reads: new ReadIndexTracker(),
      startIndex: next,
      heartbeatDeadlineMs: nowMs + this.config.heartbeatIntervalMs,
      stepDownDeadlineMs: nowMs + this.config.electionTimeoutMs,
      quiescence: newLeaderQuiescence(nowMs, next),
    };
  }

  /** Appends entries to this node's log, tracking configuration entries. */
  appendLocal(entries: readonly LogEntry[]): void {
    this.log.append(entries);
    for (const entry of entries) {
      if (entry.conf !== undefined)
        this.confs.add({ id: { index: entry.index, term: entry.term }, conf: entry.conf });
    }
  }

  /**
   * A request from `leaderId` in `term` (>= ours): follow it, refresh the lease and the election
   * timer. False when another leader already holds this term (the caller refuses the request).
   */
  acceptLeader(term: number, leaderId: PeerKey, nowMs: number): boolean {
    if (this.inTriggeredPreVote(term, leaderId)) {
      // vote() runs its pre-vote under a live leader: its heartbeats must not cancel it. The
      // election deadline is not pushed back, so a pre-vote that never wins ends (tick).
      this.renewFollowerLease(leaderId, nowMs);
      return true;
    }
    invariant(term === this.term, () => `a leader's request of term ${term} in term ${this.term}`);
    if (this.role !== "follower") {
      this.becomeFollower(term, leaderId, nowMs, `request from leader ${leaderId}`);
    }
    if (this.leaderId !== leaderId) {
      if (this.leaderId !== "") {
        // Two leaders in one term cannot happen with correct peers; braft moves to a new term.
        this.becomeFollower(this.term + 1, "", nowMs, `${leaderId} and ${this.leaderId} both lead`);
        return false;
      }
      this.setLeader(leaderId, nowMs, "request from leader");
    }
    this.renewFollowerLease(leaderId, nowMs);
    this.resetElectionDeadline(nowMs);
    return true;
  }

  /**
   * The state machine was loaded from a snapshot covering `meta`. When the shell reset the
   * durable log (it disagreed with the snapshot), the log view restarts after the snapshot too.
   */
  resetToSnapshot(meta: SnapshotMetaData, logReset: boolean): void {
    const index = meta.lastIncludedIndex;
    const snapshotConf = { id: { index, term: meta.lastIncludedTerm }, conf: meta.conf };
    if (logReset || this.log.lastIndex() < index) {
      this.log.resetAfterSnapshot(index);
      this.confs.reset(snapshotConf);
    } else {
      this.confs.setSnapshot(snapshotConf);
    }
    // A reset log holds nothing past the snapshot: entries persisted before are gone from disk.
    this.persistedIndex = logReset ? index : Math.max(this.persistedIndex, index);
    this.commitIndex = Math.max(this.commitIndex, index);
    this.appliedIndex = Math.max(this.appliedIndex, index);
  }

  setLeader(leaderId: PeerKey, nowMs: number, reason: string): void {
    if (leaderId === this.leaderId) return;
    if (this.leaderId !== "" && this.leaderId !== this.config.self) {
      this.emit({ type: "stopFollowing", leaderId: this.leaderId, term: this.term, reason });
    }
    this.leaderId = leaderId;
    if (leaderId !== "" && leaderId !== this.config.self) {
      this.renewFollowerLease(leaderId, nowMs);
      this.emit({ type: "startFollowing", leaderId, term: this.term });
    }
  }

  private inTriggeredPreVote(term: number, leaderId: PeerKey): boolean {
    return (
      this.role === "preCandidate" &&
      votesOf(this)?.triggered === true &&
      term === this.term &&
      leaderId === this.leaderId
    );
  }

  private renewFollowerLease(leaderId: PeerKey, nowMs: number): void {
    this.lastLeaderContactMs = nowMs;
    this.leaseLeaderId = leaderId;
  }

  /** A follower's progress or the commit index moved: a configuration change may go on. */
  advanceChange(nowMs: number): void {
    advanceChange(this, nowMs);
    checkInvariants(this);
  }

  /** Sends heartbeats to every follower now (a read round, or a leadership check). */
  heartbeatNow(nowMs: number): void {
    const leader = leaderOf(this);
    if (leader !== undefined) leader.heartbeatDeadlineMs = nowMs + this.config.heartbeatIntervalMs;
    broadcastHeartbeats(this, nowMs);
    checkInvariants(this);
  }

  /**
   * Hands leadership to `target` (the most up-to-date follower when undefined, braft's ANY_PEER).
   * Undefined when started: `transferEnded` reports the outcome.
   */
  transferLeadership(target: PeerKey | undefined, nowMs: number): RaftError | undefined {
    const refusal = startTransfer(this, target, nowMs);
    checkInvariants(this);
    return refusal;
  }

  /** braft's ERROR state: the node stops taking part in the group until restarted. */
  enterError(reason: string, nowMs: number): void {
    if (this.role === "error" || this.role === "shutdown") return;
    this.leaveRole(nowMs, reason);
    this.setRole({ role: "error" });
  }

  /** Stops the core for good; nothing it does afterwards has effects. */
  shutdown(nowMs: number): void {
    if (this.role === "shutdown") return;
    if (this.role !== "error") this.leaveRole(nowMs, "node shut down");
    this.setRole({ role: "shutdown" });
  }

  handleFailure(send: Send, nowMs: number, retryAfterMs?: number): void {
    if (send.message.kind === "installSnapshot") {
      handleSnapshotResult(this, send, undefined);
      return;
    }
    const leader = leaderOf(this);
    if (send.message.kind !== "append" || send.heartbeat || leader === undefined) return;
    if (send.message.request.term !== this.term) return;
    const progress = leader.progress.get(send.message.to);
    progress?.onFailed(send.seq, this.seq);
    if (retryAfterMs !== undefined) progress?.blockUntil(nowMs + retryAfterMs);
  }

  /**
   * Ends what the current role was doing (a leader's change, transfer and reads fail). The
   * caller then sets the next role, which drops the old role's state.
   */
  leaveRole(nowMs: number, reason: string): void {
    const leader = leaderOf(this);
    if (leader !== undefined) {
      dropChange(leader, this, reason);
      if (leader.transfer !== undefined) {
        this.emit({ type: "transferEnded", succeeded: true, reason });
        leader.transfer = undefined;
      }
      const failedReads = leader.reads.drain();
      if (failedReads.length > 0) this.emit({ type: "readIndexFailed", ids: failedReads, reason });
      this.emit({ type: "leaderStop", term: this.term, reason });
      this.leaderId = "";
    } else if (this.leaderId !== "") {
      this.setLeader("", nowMs, reason);
    }
  }

  /** The one place the role changes; the state of the role left goes with it. */
  setRole(next: RoleState): void {
    clearFollowerQuiet(this); // a new role, or a follower of a new term: timers run again
    const changed = next.role !== this.role;
    this.roleState = next;
    if (changed) this.emit({ type: "roleChanged", role: next.role, term: this.term });
  }

  makeEntry(index: number, proposal: Proposal): LogEntry {
    const entry: LogEntry = { index, term: this.term, type: proposal.type, data: proposal.data };
    return proposal.conf === undefined ? entry : { ...entry, conf: proposal.conf };
  }
}
