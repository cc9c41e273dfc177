/**
 * The Raft algorithm as a closed, synchronous state machine (braft's NodeImpl logic, etcd's
 * RawNode shape). Inputs only through methods: `stepRequest` / `stepResponse` (a peer's request,
 * or the answer to one this core sent), `tick` (time passed), `propose`, `readIndex`, the
 * shell's completions (`onPersisted`, `onApplied`, `finishInstall`) and the operator's calls
 * (`setReadOnly`, `resetElectionTimeout`, membership and transfer). Outputs only through
 * `takeReady()`, which also says how far the state machine may apply. Every input carries the
 * current time; the core never reads a clock. The state lives in a private {@link RaftMachine};
 * the shell reads it through the read-only getters below.
 */
import type { CoreConfig } from "./config.js";
import type { ConfigurationEntry } from "./configuration.js";
import { normalizeConfiguration } from "./configuration.js";
import {
  leaderOf,
  votesOf,
  type CoreState,
  type LeaderState,
  type MembershipChange,
  type TransferState,
} from "./core-state.js";
import { RaftError, invariant } from "./errors.js";
import type { Ready, Send } from "./events.js";
import { grantSelfWhenLeaseExpired, handleVoteRequest, handleVoteResponse, triggerVote } from "./election.js";
import type { InboundRequest, PeerResponse, SnapshotMetaData } from "./messages.js";
import type { Progress } from "./progress.js";
import type { LogReader } from "./raft-log.js";
import type { ConfigurationManager } from "./configuration.js";
import { advanceChange, startChange } from "./membership.js";
import { expireTransfer, handOverIfWitness, handleTimeoutNow, startTransfer } from "./transfer.js";
import { assertAppendWellFormed, checkInvariants } from "./invariants.js";
import {
  checkQuorum,
  leaderLeaseStatus,
  leaseExpiresAtMs,
  resetElectionTimeouts,
  type LeaderLeaseStatus,
} from "./lease.js";
import { stepRequestTerm } from "./request-term.js";
import { finishInstall, handleInstallRequest, handleSnapshotResult } from "./snapshot.js";
import {
  broadcastHeartbeats,
  handleAppendRequest,
  handleAppendResponse,
  maybeCommit,
  sendAppends,
} from "./replication.js";
import { NO_DEADLINE, RaftMachine, type Proposal } from "./raft-machine.js";
import {
  handleQuiesceRequest,
  handleQuiesceResponse,
  isQuiet,
  maybeQuiesce,
  noteProposed,
  wake,
  type WakeOptions,
} from "./quiesce.js";
import type { QuiesceRequest, QuiesceResponse } from "./messages.js";
import type { ConfigurationData, HardState, LogEntry, LogId, PeerKey, Role } from "./types.js";

export type { Proposal };

/** An answer (or failure) to a request this core sent. */
export type ResponseInput =
  | { readonly kind: "response"; readonly send: Send; readonly response: PeerResponse }
  | {
      readonly kind: "failure";
      readonly send: Send;
      /** The peer answered that it is busy: send it no entries for this long (braft's _block). */
      readonly retryAfterMs?: number | undefined;
    };

export type ProposalResult = { readonly index: number; readonly term: number } | RaftError;

/** What the shell may read of the log: positions and entries, no writes. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  lastLogId(): LogId;
  term(index: number): number | undefined;
  entry(index: number): LogEntry | undefined;
}

/** What the shell may read of the configurations in the log. */
export interface ConfigurationView {
  last(): ConfigurationEntry;
  at(index: number): ConfigurationEntry;
}

/** What the shell may read of a follower's replication state (status pages). */
export type ProgressView = Readonly<Pick<Progress, "state" | "matchIndex" | "nextIndex" | "inflight">>;

let machineOf: (core: RaftCore) => CoreState;

const NO_PROGRESS: ReadonlyMap<PeerKey, ProgressView> = new Map();

export class RaftCore {
  readonly #m: RaftMachine;

  static {
    machineOf = (core) => core.#m;
  }

  constructor(
    config: CoreConfig,
    hardState: HardState,
    storage: LogReader,
    confs: ConfigurationManager,
    nowMs: number,
    /** Last index covered by the snapshot the state machine was loaded from (0 without one). */
    snapshotIndex = 0,
  ) {
    this.#m = new RaftMachine(config, hardState, storage, confs, nowMs, snapshotIndex);
  }

  // ---- read-only views ---------------------------------------------------------------------

  get config(): Readonly<CoreConfig> {
    return this.#m.config;
  }
  get role(): Role {
    return this.#m.role;
  }
  get term(): number {
    return this.#m.term;
  }
  get votedFor(): PeerKey {
    return this.#m.votedFor;
  }
  /** The leader of `term` once known, "" otherwise. */
  get leaderId(): PeerKey {
    return this.#m.leaderId;
  }
  get commitIndex(): number {
    return this.#m.commitIndex;
  }
  get appliedIndex(): number {
    return this.#m.appliedIndex;
  }
  get persistedIndex(): number {
    return this.#m.persistedIndex;
  }
  get log(): LogView {
    return this.#m.log;
  }
  get confs(): ConfigurationView {
    return this.#m.confs;
  }
  /** Per-follower replication state; empty unless leading. */
  get progress(): ReadonlyMap<PeerKey, ProgressView> {
    return leaderOf(this.#m)?.progress ?? NO_PROGRESS;
  }
  get change(): Readonly<Pick<MembershipChange, "stage" | "target">> | undefined {
    return leaderOf(this.#m)?.change;
  }
  get transfer(): Readonly<Pick<TransferState, "target" | "deadlineMs">> | undefined {
    return leaderOf(this.#m)?.transfer;
  }
  get lastLeaderContactMs(): number {
    return this.#m.lastLeaderContactMs;
  }
  get electionDeadlineMs(): number {
    return this.#m.electionDeadlineMs;
  }
  /** A leader's check-quorum deadline (no deadline on other roles). */
  get stepDownDeadlineMs(): number {
    return leaderOf(this.#m)?.stepDownDeadlineMs ?? NO_DEADLINE;
  }

  // ---- inputs ------------------------------------------------------------------------------

  /** Handles a request from a peer; its reply appears in a later Ready under `replyId`. */
  stepRequest(input: InboundRequest, replyId: number, nowMs: number): void {
    if (input.kind === "append") assertAppendWellFormed(input.request);
    this.routeRequest(input, replyId, nowMs);
    checkInvariants(this.#m);
  }

  private routeRequest(input: InboundRequest, replyId: number, nowMs: number): void {
    if (!this.#m.isActive()) {
      this.#m.reply({ kind: "error", replyId, code: "EINVAL", text: `node is ${this.#m.role}` });
      return;
    }
    wake(this.#m, nowMs, {}); // any message for the group wakes it (quiesce.ts)
    if (!stepRequestTerm(this.#m, input, replyId, nowMs)) return;
    switch (input.kind) {
      case "vote":
        handleVoteRequest(this.#m, input.request, replyId, nowMs);
        return;
      case "append":
        handleAppendRequest(this.#m, input.request, replyId, nowMs);
        return;
      case "timeoutNow":
        handleTimeoutNow(this.#m, input.request, replyId, nowMs);
        return;
      case "installSnapshot":
        handleInstallRequest(this.#m, input.request, replyId, nowMs);
        return;
    }
  }

  /** Handles the answer to, or the failure of, a request this.#m core sent. */
  stepResponse(input: ResponseInput, nowMs: number): void {
    this.routeResponse(input, nowMs);
    checkInvariants(this.#m);
  }

  private routeResponse(input: ResponseInput, nowMs: number): void {
    if (!this.#m.isActive()) return;
    const { send } = input;
    if (input.kind === "failure") {
      this.#m.handleFailure(send, nowMs, input.retryAfterMs);
      return;
    }
    const { response } = input;
    invariant(
      response.kind === send.message.kind,
      () => `a ${response.kind} response to a ${send.message.kind} request`,
    );
    // etcd's Step: an answer's term is handled first, for every role, before its kind is.
    const { term } = response.response;
    if (term > this.#m.term) {
      this.#m.becomeFollower(term, "", nowMs, higherTermReason(response.kind, term, send.message.to));
      return;
    }
    switch (response.kind) {
      case "vote":
        if (send.message.kind === "vote")
          handleVoteResponse(this.#m, send.message.to, send.message.request, response.response, nowMs);
        return;
      case "append":
        handleAppendResponse(this.#m, send, response.response, nowMs);
        return;
      case "timeoutNow":
        return; // only its term matters: the target campaigns on its own
      case "installSnapshot":
        handleSnapshotResult(this.#m, send, response.response);
        return;
    }
  }

  /**
   * Follower: the shell finished the install announced by an `installSnapshot` event, with the
   * snapshot's meta when it was loaded (the durable log already reset to it), undefined if not.
   */
  finishInstall(replyId: number, meta: SnapshotMetaData | undefined, logReset: boolean): void {
    if (!this.#m.isActive()) return;
    finishInstall(this.#m, replyId, meta, logReset);
    checkInvariants(this.#m);
  }

  /** Lets time pass: election, vote, heartbeat and step-down timers fire here. */
  tick(nowMs: number): void {
    this.runTimers(nowMs);
    checkInvariants(this.#m);
  }

  private runTimers(nowMs: number): void {
    if (!this.#m.isActive()) return;
    const leader = leaderOf(this.#m);
    if (leader !== undefined) {
      this.runLeaderTimers(leader, nowMs);
      return;
    }
    grantSelfWhenLeaseExpired(this.#m, nowMs);
    if (nowMs < this.#m.electionDeadlineMs) return;
    const votes = votesOf(this.#m);
    if (this.#m.role === "preCandidate" && votes?.triggered === true && this.#m.leaderId !== "") {
      this.#m.becomeFollower(this.#m.term, this.#m.leaderId, nowMs, "the triggered vote did not win in time");
      return;
    }
    if (this.#m.role === "candidate" && !this.#m.config.stepDownWhenVoteTimedOut) {
      this.#m.becomeCandidate(nowMs);
      return;
    }
    if (this.#m.leaderId !== "") this.#m.setLeader("", nowMs, "election timeout");
    if (this.#m.role === "candidate") this.#m.becomeFollower(this.#m.term, "", nowMs, "vote timed out");
    this.#m.campaign(nowMs);
  }

  /** A leader's timers: transfer timeout, change catch-up, check-quorum, heartbeats. */
  private runLeaderTimers(leader: LeaderState, nowMs: number): void {
    if (leader.quiescence.quiet) return; // a quiet group has no timers (quiesce.ts)
    expireTransfer(this.#m, leader, nowMs);
    handOverIfWitness(this.#m, leader, nowMs);
    advanceChange(this.#m, nowMs);
    // The change may have ended this leadership (a removed leader steps down).
    if (leaderOf(this.#m) !== leader) return;
    if (nowMs >= leader.stepDownDeadlineMs) checkQuorum(this.#m, leader, nowMs);
    if (leaderOf(this.#m) === leader && nowMs >= leader.heartbeatDeadlineMs) {
      leader.heartbeatDeadlineMs = nowMs + this.#m.config.heartbeatIntervalMs;
      if (maybeQuiesce(this.#m, leader, nowMs)) return;
      broadcastHeartbeats(this.#m, nowMs);
    }
  }

  /** The earliest time at which `tick` has something to do. */
  nextDeadlineMs(): number {
    if (!this.#m.isActive()) return NO_DEADLINE;
    const leader = leaderOf(this.#m);
    if (leader !== undefined) {
      if (leader.quiescence.quiet) return NO_DEADLINE;
      return Math.min(
        leader.heartbeatDeadlineMs,
        leader.stepDownDeadlineMs,
        leader.transfer?.deadlineMs ?? NO_DEADLINE,
      );
    }
    const votes = votesOf(this.#m);
    const selfVotePending = votes !== undefined && !votes.selfGranted;
    return Math.min(
      this.#m.electionDeadlineMs,
      selfVotePending ? this.#m.followerLeaseEndsAtMs() : NO_DEADLINE,
    );
  }

  /** Appends proposals to the leader's log. Each gets an index or the error that rejected it. */
  propose(proposals: readonly Proposal[], nowMs: number): ProposalResult[] {
    const wasQuiet = isQuiet(this.#m);
    wake(this.#m, nowMs, {});
    const refusal = this.proposalRefusal();
    if (refusal !== undefined) return proposals.map(() => refusal);
    const results: ProposalResult[] = [];
    const entries: LogEntry[] = [];
    let index = this.#m.log.lastIndex();
    for (const proposal of proposals) {
      if (proposal.expectedTerm !== undefined && proposal.expectedTerm !== this.#m.term) {
        results.push(
          // braft's NodeImpl::apply answers EPERM, in these words.
          new RaftError(
            "EPERM",
            `expected_term=${proposal.expectedTerm} doesn't match current_term=${this.#m.term}`,
          ),
        );
        continue;
      }
      index++;
      entries.push(this.#m.makeEntry(index, proposal));
      results.push({ index, term: this.#m.term });
    }
    this.#m.appendLocal(entries);
    sendAppends(this.#m, nowMs);
    const leader = leaderOf(this.#m);
    if (leader !== undefined && entries.length > 0) noteProposed(this.#m, leader, nowMs, wasQuiet);
    checkInvariants(this.#m);
    return results;
  }

  /**
   * A linearizable read on this leader (ReadIndex, beyond braft). Undefined when accepted: a
   * `readIndexReady` event follows once leadership is confirmed (at once inside a valid lease),
   * or `readIndexFailed` if leadership ends first. The error when this node cannot serve it.
   */
  readIndex(id: number, nowMs: number): RaftError | undefined {
    const leader = leaderOf(this.#m);
    if (leader === undefined) return this.#m.notLeaderError();
    if (this.#m.config.witness === true) return new RaftError("EBUSY", "a witness has no state to read");
    wake(this.#m, nowMs, {});
    const leaseRead = this.#m.config.leaderLeaseEnabled && this.leaseExpiresAtMs(nowMs) > nowMs;
    if (leaseRead) this.#m.emit({ type: "readIndexReady", reads: [{ id, index: this.#m.commitIndex }] });
    else leader.reads.add(this.#m, id, nowMs);
    checkInvariants(this.#m);
    return undefined;
  }

  /**
   * Changes the configuration to `conf` in braft's stages (catch up, joint, new). Undefined when
   * started: `changeDone` reports the outcome.
   */
  changeConfiguration(conf: ConfigurationData, nowMs: number): RaftError | undefined {
    wake(this.#m, nowMs, {});
    const refusal = startChange(this.#m, conf, nowMs);
    checkInvariants(this.#m);
    return refusal;
  }

  /**
   * braft's reset_peers (unsafe, for a group that lost its majority): adopts `conf` locally,
   * steps down into a new term and campaigns if it is now the only voter.
   */
  resetConfiguration(conf: ConfigurationData, nowMs: number): RaftError | undefined {
    wake(this.#m, nowMs, {});
    if (!this.#m.isActive()) return this.#m.notLeaderError();
    if (conf.peers.length === 0)
      return new RaftError("EINVAL", "reset_peers needs a non-empty configuration");
    if (leaderOf(this.#m)?.change !== undefined)
      return new RaftError("EBUSY", "a configuration change is in progress");
    this.#m.confs.override(normalizeConfiguration(conf));
    this.#m.becomeFollower(this.#m.term + 1, "", nowMs, "configuration reset by the operator");
    this.#m.campaignIfSoleVoter(nowMs);
    checkInvariants(this.#m);
    return undefined;
  }

  /** A leader shutting down wakes its best follower (braft's wakeup_a_candidate). */
  handOverLeadership(nowMs: number): void {
    wake(this.#m, nowMs, {});
    startTransfer(this.#m, undefined, nowMs, true);
    checkInvariants(this.#m);
  }

  /** braft's vote(election_timeout_ms); see election.ts. */
  triggerVote(electionTimeoutMs: number, nowMs: number): RaftError | undefined {
    wake(this.#m, nowMs, {});
    const refusal = triggerVote(this.#m, electionTimeoutMs, nowMs);
    checkInvariants(this.#m);
    return refusal;
  }

  /** braft's reset_election_timeout_ms, one- and two-argument forms; see lease.ts. */
  resetElectionTimeout(
    electionTimeoutMs: number,
    maxClockDriftMs: number | undefined,
    nowMs: number,
  ): RaftError | undefined {
    wake(this.#m, nowMs, {});
    const refusal = resetElectionTimeouts(this.#m, electionTimeoutMs, maxClockDriftMs, nowMs);
    checkInvariants(this.#m);
    return refusal;
  }

  /** Why this node cannot take proposals now, if it cannot. */
  private proposalRefusal(): RaftError | undefined {
    const leader = leaderOf(this.#m);
    if (leader === undefined) return this.#m.notLeaderError();
    if (this.#m.config.witness === true) {
      return new RaftError("EBUSY", "this leader is a witness: it takes no writes and hands over leadership");
    }
    if (leader.transfer !== undefined) {
      return new RaftError("EBUSY", `leadership is being transferred to ${leader.transfer.target}`);
    }
    if (this.#m.isReadOnly()) return new RaftError("EREADONLY", "the group is in read-only mode");
    return undefined;
  }

  /** The shell made the log durable through (index, term); a leader may commit it now. */
  onPersisted(index: number, term: number, nowMs: number): void {
    this.#m.log.stableTo(index, term);
    if (this.#m.log.term(index) !== term || index <= this.#m.persistedIndex) return;
    this.#m.persistedIndex = index;
    if (this.#m.role === "leader") maybeCommit(this.#m, nowMs);
    checkInvariants(this.#m);
  }

  /** The state machine applied through `index`. */
  onApplied(index: number): void {
    invariant(index <= this.#m.commitIndex, () => `applied ${index} beyond committed ${this.#m.commitIndex}`);
    if (index > this.#m.appliedIndex) this.#m.appliedIndex = index;
    checkInvariants(this.#m);
  }

  /** braft's enter/leave_readonly_mode: a read-only node refuses new entries (EREADONLY). */
  setReadOnly(readonly: boolean): void {
    this.#m.readonly = readonly;
    checkInvariants(this.#m);
  }

  /** Until when this.#m leader may serve reads from its own state (see lease.ts). */
  leaseExpiresAtMs(nowMs: number): number {
    return leaseExpiresAtMs(this.#m, nowMs);
  }

  /** braft's get_leader_lease_status. */
  leaderLeaseStatus(nowMs: number): LeaderLeaseStatus {
    return leaderLeaseStatus(this.#m, nowMs);
  }

  /** Hands leadership to `target` (the most up-to-date follower when undefined, braft's ANY_PEER). */
  transferLeadership(target: PeerKey | undefined, nowMs: number): RaftError | undefined {
    wake(this.#m, nowMs, {});
    return this.#m.transferLeadership(target, nowMs);
  }

  // ---- quiescence (tsraft's extension, quiesce.ts) -----------------------------------------

  /** Whether the group is quiet here: no timer of it needs to run (nextDeadlineMs is infinite). */
  get quiet(): boolean {
    return isQuiet(this.#m);
  }

  /** Follower: the leader's Quiesce message; the answer goes straight back to it. */
  stepQuiesce(request: QuiesceRequest, nowMs: number): QuiesceResponse {
    if (!this.#m.isActive()) return { term: this.#m.term, success: false };
    const response = handleQuiesceRequest(this.#m, request, nowMs);
    checkInvariants(this.#m);
    return response;
  }

  /** Leader: a follower's answer to the Quiesce of `term` (undefined when the call failed). */
  onQuiesceAnswer(term: number, response: QuiesceResponse | undefined, nowMs: number): void {
    if (!this.#m.isActive()) return;
    handleQuiesceResponse(this.#m, term, response, nowMs);
    checkInvariants(this.#m);
  }

  /** Wakes a quiet group here (its leader's process was lost, or the shell has work for it). */
  wake(nowMs: number, options: WakeOptions = {}): void {
    if (!this.#m.isActive()) return;
    wake(this.#m, nowMs, options);
    checkInvariants(this.#m);
  }

  /** Starts an election (pre-vote first) as if the election timer fired. */
  campaign(nowMs: number): void {
    this.#m.campaign(nowMs);
  }

  /** A node that is the only voter elects itself at once instead of waiting out a timeout (braft). */
  campaignIfSoleVoter(nowMs: number): void {
    this.#m.campaignIfSoleVoter(nowMs);
  }

  /** braft's ERROR state: the node stops taking part in the group until restarted. */
  enterError(reason: string, nowMs: number): void {
    this.#m.enterError(reason, nowMs);
  }

  /** Stops the core for good; nothing it does afterwards has effects. */
  shutdown(nowMs: number): void {
    this.#m.shutdown(nowMs);
  }

  // ---- outputs -----------------------------------------------------------------------------

  /** Everything produced since the last call. */
  takeReady(): Ready {
    return this.#m.takeReady();
  }

  hasReady(): boolean {
    return this.#m.hasReady();
  }

  // ---- queries -----------------------------------------------------------------------------

  /** A leader is read-only when it is, or when a quorum of its voters is (braft). */
  isReadOnly(): boolean {
    return this.#m.isReadOnly();
  }

  /** The error a non-leader gives a client, with the leader to redirect to. */
  notLeaderError(): RaftError {
    return this.#m.notLeaderError();
  }
}

/** Why a leader or candidate stepped down for an answer from `peer` carrying a newer term. */
function higherTermReason(kind: PeerResponse["kind"], term: number, peer: PeerKey): string {
  switch (kind) {
    case "vote":
      return `higher term ${term} in vote response from ${peer}`;
    case "append":
      return `higher term ${term} in append response from ${peer}`;
    case "timeoutNow":
      return "higher term in timeout_now response";
    case "installSnapshot":
      return `higher term ${term} in install_snapshot response from ${peer}`;
  }
}

/**
 * The state inside `core`, for the core's own invariant tests, which break it on purpose.
 * Not exported from the core's index.
 */
export function coreStateForTests(core: RaftCore): CoreState {
  return machineOf(core);
}
