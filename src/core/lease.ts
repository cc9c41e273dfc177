/**
 * Time-based leadership bookkeeping (braft's LeaderLease, FollowerLease and stepdown timer).
 *
 * The leader lease: a leader may serve reads from its own state until the newest time a quorum
 * acknowledged it (the send time of the acknowledged request, so an answer never counts as
 * newer than it is) plus one election timeout. The follower lease: a follower votes for nobody
 * until an election timeout plus `maxClockDriftMs` after it last heard from its leader, unless
 * that leader has stepped down (election.ts). Every quorum that elects a new leader contains a
 * follower whose ack a valid lease would count, so the old lease has run out before that
 * follower votes, as long as clocks drift apart by less than `maxClockDriftMs` per lease.
 * docs/reads.md gives the whole argument.
 */
import { RaftError } from "./errors.js";
import { quorumValue } from "./quorum.js";
import { leaderOf, type CoreState, type LeaderState } from "./core-state.js";
import type { PeerKey } from "./types.js";

/** braft's LeaderLeaseStatus states (braft's internal SUSPECT included, see leaderLeaseStatus). */
export type LeaseState = "DISABLED" | "EXPIRED" | "NOT_READY" | "VALID" | "SUSPECT";

/** braft's LeaderLeaseStatus: `term` and `leaseEpoch` are set only when VALID (0 otherwise). */
export interface LeaderLeaseStatus {
  readonly state: LeaseState;
  readonly term: number;
  /**
   * Counts the leases of this node: a new one starts with each leadership and after each failed
   * transfer. Two VALID answers with the same epoch mean the lease held in between.
   */
  readonly leaseEpoch: number;
}

/**
 * Until when the leader may serve reads from its own state without asking anyone; minus
 * infinity when it may not at all (not leader, transferring leadership, or its state machine
 * has not yet applied its first entry, braft's NOT_READY).
 */
export function leaseExpiresAtMs(core: CoreState, nowMs: number): number {
  if (leaseState(core) !== "READY") return Number.NEGATIVE_INFINITY;
  return quorumAckedAtMs(core, nowMs) + core.config.electionTimeoutMs;
}

/** braft's get_leader_lease_status, without braft's step-down on SUSPECT (check-quorum does that). */
export function leaderLeaseStatus(core: CoreState, nowMs: number): LeaderLeaseStatus {
  const none = { term: 0, leaseEpoch: 0 };
  if (!core.config.leaderLeaseEnabled) return { state: "DISABLED", ...none };
  const state = leaseState(core);
  if (state !== "READY") return { state, ...none };
  if (nowMs >= leaseExpiresAtMs(core, nowMs)) return { state: "SUSPECT", ...none };
  return { state: "VALID", term: core.term, leaseEpoch: core.leaseEpoch };
}

function leaseState(core: CoreState): "EXPIRED" | "NOT_READY" | "READY" {
  // A transfer ends the lease at once (braft's on_leader_stop): the target may win soon after.
  const leader = leaderOf(core);
  // A witness leader is handing over and has no state to read from: no lease either.
  if (leader === undefined || leader.transfer !== undefined || core.config.witness === true) return "EXPIRED";
  return core.appliedIndex < leader.startIndex ? "NOT_READY" : "READY";
}

/** braft's stepdown timer: a leader that a quorum has not answered for an election timeout steps down. */
export function checkQuorum(core: CoreState, leader: LeaderState, nowMs: number): void {
  leader.stepDownDeadlineMs = nowMs + core.config.electionTimeoutMs;
  if (nowMs - quorumAckedAtMs(core, nowMs) >= core.config.electionTimeoutMs) {
    core.becomeFollower(core.term, "", nowMs, "lost contact with a quorum");
  }
}

/** The newest time by which a quorum (this leader included, as of now) had acknowledged it. */
function quorumAckedAtMs(core: CoreState, nowMs: number): number {
  return quorumValue(core.voters(), (peer) => ackTimeOf(core, peer, nowMs));
}

function ackTimeOf(core: CoreState, peer: PeerKey, nowMs: number): number {
  if (peer === core.config.self) return nowMs;
  return leaderOf(core)?.progress.get(peer)?.lastAckSentAtMs ?? Number.NEGATIVE_INFINITY;
}

/** New election timeout and clock drift allowance (braft's reset_election_timeout_ms). */
export interface ElectionTimeouts {
  readonly electionTimeoutMs: number;
  readonly maxClockDriftMs: number;
}

/**
 * braft's safe reset_election_timeout_ms(ms) and vote(ms): the new timeout may not exceed the
 * current timeout plus drift allowance (EINVAL), and what it gives up moves into the drift
 * allowance. So the time a follower waits before voting (timeout + drift) never shrinks, and a
 * leader's lease (its timeout) never outgrows what the followers wait.
 */
export function safeElectionTimeouts(
  current: ElectionTimeouts,
  electionTimeoutMs: number,
): ElectionTimeouts | RaftError {
  const thresholdMs = current.electionTimeoutMs + current.maxClockDriftMs;
  if (!Number.isInteger(electionTimeoutMs) || electionTimeoutMs <= 0) {
    return new RaftError("EINVAL", `election timeout must be a positive integer, got ${electionTimeoutMs}`);
  }
  if (electionTimeoutMs > thresholdMs) {
    return new RaftError(
      "EINVAL",
      `election timeout ${electionTimeoutMs} ms is larger than the safety threshold ${thresholdMs} ms ` +
        `(election timeout + max clock drift)`,
    );
  }
  return { electionTimeoutMs, maxClockDriftMs: thresholdMs - electionTimeoutMs };
}

/**
 * braft's reset_election_timeout_ms: with `maxClockDriftMs` undefined, the safe form above;
 * given, both are taken as they are (braft's two-argument form). The heartbeat interval follows.
 */
export function resetElectionTimeouts(
  core: CoreState,
  electionTimeoutMs: number,
  maxClockDriftMs: number | undefined,
  nowMs: number,
): RaftError | undefined {
  const current = maxClockDriftMs === undefined ? core.config : { electionTimeoutMs, maxClockDriftMs };
  const timeouts = safeElectionTimeouts(current, electionTimeoutMs);
  if (timeouts instanceof RaftError) return timeouts;
  setElectionTimeouts(core, timeouts, nowMs);
  return undefined;
}

/** Takes new timeouts from now on; a non-leader restarts its election timer with them. */
export function setElectionTimeouts(core: CoreState, timeouts: ElectionTimeouts, nowMs: number): void {
  core.config.electionTimeoutMs = timeouts.electionTimeoutMs;
  core.config.maxClockDriftMs = timeouts.maxClockDriftMs;
  const factor = core.config.electionHeartbeatFactor ?? 10;
  core.config.heartbeatIntervalMs = Math.max(10, Math.floor(timeouts.electionTimeoutMs / factor));
  if (core.role !== "leader") core.resetElectionDeadline(nowMs);
}
