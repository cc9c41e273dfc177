/**
 * Elections: braft's pre-vote and request-vote, both sides.
 *
 * A voter refuses while it still hears from a live leader (its lease), unless the candidate was
 * started by TimeoutNow: so a removed or partitioned node cannot depose a healthy leader.
 */
import type { RaftCore } from "./raft.js";
import type { RequestVoteRequest, RequestVoteResponse } from "./messages.js";
import { quorumVoteResult } from "./quorum.js";
import type { PeerKey } from "./types.js";

/** Answers received in the current round: true granted, false refused. */
export type VoteRound = Map<PeerKey, boolean>;

export function handleVoteRequest(
  core: RaftCore,
  request: RequestVoteRequest,
  replyId: number,
  nowMs: number,
): void {
  const refuse = (rejectedByLease = false): void => {
    core.reply({ kind: "vote", replyId, response: { term: core.term, granted: false, rejectedByLease } });
  };
  if (request.term < core.term) return refuse();
  const leaseHolds = core.inLeaderLease(nowMs) && request.disruptLeader !== true;
  if (request.preVote) {
    if (leaseHolds) return refuse(true);
    const granted = core.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
    core.reply({ kind: "vote", replyId, response: { term: core.term, granted } });
    return;
  }
  if (request.term > core.term) {
    if (leaseHolds) return refuse(true);
    core.becomeFollower(
      request.term,
      "",
      nowMs,
      `vote request of ${request.serverId} in term ${request.term}`,
    );
  }
  const free = core.votedFor === "" || core.votedFor === request.serverId;
  const granted =
    free && core.role === "follower" && core.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
  if (granted) {
    if (core.votedFor !== request.serverId) core.setVote(request.serverId);
    core.resetElectionDeadline(nowMs);
  }
  core.reply({ kind: "vote", replyId, response: { term: core.term, granted } });
}

export function handleVoteResponse(
  core: RaftCore,
  from: PeerKey,
  request: RequestVoteRequest,
  response: RequestVoteResponse,
  nowMs: number,
): void {
  if (response.term > core.term) {
    core.becomeFollower(
      response.term,
      "",
      nowMs,
      `higher term ${response.term} in vote response from ${from}`,
    );
    return;
  }
  const round = request.preVote ? "preCandidate" : "candidate";
  const roundTerm = request.preVote ? core.term + 1 : core.term;
  if (core.role !== round || request.term !== roundTerm) return; // an answer to an older round
  core.votes.set(from, response.granted);
  tallyVotes(core, nowMs);
}

/** Moves on once the round is decided: pre-vote won starts the real election; election won leads. */
export function tallyVotes(core: RaftCore, nowMs: number): void {
  const result = quorumVoteResult(core.voters(), (peer) => core.votes.get(peer));
  if (result !== "won") return;
  if (core.role === "preCandidate") core.becomeCandidate(nowMs, false);
  else if (core.role === "candidate") core.becomeLeader(nowMs);
}
