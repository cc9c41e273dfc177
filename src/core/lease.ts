/**
 * Time-based leadership bookkeeping (braft's LeaderLease and stepdown timer): what a quorum has
 * acknowledged, and when. Times are the send times of the acknowledged requests, so an answer is
 * never counted as newer than it is.
 */
import { quorumValue } from "./quorum.js";
import type { RaftCore } from "./raft.js";
import type { PeerKey } from "./types.js";

/**
 * Until when the leader may serve reads from its own state without asking anyone: the time a
 * quorum last acknowledged it, plus an election timeout. No follower grants a vote sooner
 * (it waits an election timeout, plus the clock drift allowance, after last hearing from us).
 */
export function leaseExpiresAtMs(core: RaftCore, nowMs: number): number {
  if (core.role !== "leader" || core.commitIndex < core.leaderStartIndex) return Number.NEGATIVE_INFINITY;
  return quorumAckedAtMs(core, nowMs) + core.config.electionTimeoutMs;
}

/** braft's stepdown timer: a leader that a quorum has not answered for an election timeout steps down. */
export function checkQuorum(core: RaftCore, nowMs: number): void {
  core.stepDownDeadlineMs = nowMs + core.config.electionTimeoutMs;
  if (nowMs - quorumAckedAtMs(core, nowMs) >= core.config.electionTimeoutMs) {
    core.becomeFollower(core.term, "", nowMs, "lost contact with a quorum");
  }
}

/** The newest time by which a quorum (this leader included, as of now) had acknowledged it. */
function quorumAckedAtMs(core: RaftCore, nowMs: number): number {
  return quorumValue(core.voters(), (peer) => ackTimeOf(core, peer, nowMs));
}

function ackTimeOf(core: RaftCore, peer: PeerKey, nowMs: number): number {
  if (peer === core.config.self) return nowMs;
  return core.progress.get(peer)?.lastAckSentAtMs ?? Number.NEGATIVE_INFINITY;
}
