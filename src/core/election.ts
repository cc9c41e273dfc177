/**
 * Elections: braft's pre-vote and request-vote, both sides, with braft's follower lease.
 *
 * A follower refuses (pre-)votes while it still hears from its leader (its lease, see lease.ts),
 * answering `rejectedByLease` when it would otherwise have voted. A candidate counts such
 * refusals only once the leader itself stepped down for it (answered `disrupted`): it then asks
 * those followers again, naming the disrupted leader, and they stop honouring their lease.
 * So no follower votes while its leader may still trust a lease built on that follower's acks.
 *
 * tsraft's leader refuses pre-votes (braft's grants them): a partitioned or removed node cannot
 * win a pre-vote through the leader it would depose. Only a vote the operator triggered with
 * `vote()` counts the leader's refusal, because the leader said it would be disrupted.
 */
import { RaftError } from "./errors.js";
import { safeElectionTimeouts, setElectionTimeouts } from "./lease.js";
import { leaderOf, votesOf, type CoreState, type VoteRound } from "./core-state.js";

export type { VoteRound };
import type { RequestVoteRequest, RequestVoteResponse, TermLeader } from "./messages.js";
import { quorumVoteResult } from "./quorum.js";
import type { PeerKey } from "./types.js";
import { mayCampaign } from "./witness.js";

/** A fresh round; the candidate's own vote counts at once only outside its follower lease. */
export function newVoteRound(
  core: CoreState,
  preVote: boolean,
  term: number,
  triggered: boolean,
  nowMs: number,
  disruptedLeader?: TermLeader,
): VoteRound {
  return {
    preVote,
    term,
    triggered,
    granted: new Set(),
    refused: new Set(),
    reserved: new Set(),
    disruptedLeader,
    selfGranted: !core.inFollowerLease(nowMs),
  };
}

/**
 * braft's vote(election_timeout_ms): a follower takes the timeout (within the safety threshold,
 * the rest moving into the drift allowance, lease.ts) and starts a triggered pre-vote now. Its
 * leader's heartbeats do not cancel that pre-vote (CoreState.acceptLeader); it ends at the next
 * election timeout if it has not won.
 */
export function triggerVote(
  core: CoreState,
  electionTimeoutMs: number,
  nowMs: number,
): RaftError | undefined {
  if (core.role !== "follower") return new RaftError("EPERM", `only a follower can vote, not a ${core.role}`);
  if (!mayCampaign(core.config))
    return new RaftError("EPERM", "a witness never campaigns unless raft_enable_witness_to_leader is set");
  const timeouts = safeElectionTimeouts(core.config, electionTimeoutMs);
  if (timeouts instanceof RaftError) return timeouts;
  setElectionTimeouts(core, timeouts, nowMs);
  core.campaign(nowMs, true);
  return undefined;
}

/** The voters of the current configuration (both halves of a joint one) but this node. */
export function otherVoters(core: CoreState): PeerKey[] {
  const sets = core.voters();
  return [...new Set([...sets.current, ...sets.old])].filter((peer) => peer !== core.config.self);
}

/** Asks `peers` for (pre-)votes in the current round, naming the disrupted leader if known. */
export function requestVotes(
  core: CoreState,
  peers: readonly PeerKey[],
  preVote: boolean,
  disruptedLeader: TermLeader | undefined,
  nowMs: number,
): void {
  const last = core.log.lastLogId();
  const term = preVote ? core.term + 1 : core.term;
  for (const peer of peers) {
    const request: RequestVoteRequest = {
      groupId: core.config.groupId,
      serverId: core.config.self,
      peerId: peer,
      term,
      lastLogTerm: last.term,
      lastLogIndex: last.index,
      preVote,
      ...(disruptedLeader === undefined ? {} : { disruptedLeader }),
    };
    // A real vote request follows the persisted term and self-vote; a pre-vote changes nothing.
    core.send({ kind: "vote", to: peer, request }, nowMs, { afterPersist: !preVote, heartbeat: false });
  }
}

interface VoteAnswer {
  readonly granted: boolean;
  readonly rejectedByLease?: boolean;
  readonly disrupted?: boolean;
  /** With `disrupted`: the term this node led (when it stepped down before this request). */
  readonly previousTerm?: number;
}

export function handleVoteRequest(
  core: CoreState,
  request: RequestVoteRequest,
  replyId: number,
  nowMs: number,
): void {
  const previousTerm = core.term;
  const answer = (a: VoteAnswer): void => {
    const response = {
      term: core.term,
      granted: a.granted,
      rejectedByLease: a.rejectedByLease ?? false,
      disrupted: a.disrupted ?? false,
      previousTerm: a.previousTerm ?? previousTerm,
    };
    core.reply({ kind: "vote", replyId, response });
  };
  // An older term was refused before (stepRequestTerm); a newer one is adopted below, unless a
  // follower lease refuses the vote first.
  const logOk = core.log.isUpToDate(request.lastLogIndex, request.lastLogTerm);
  if (request.preVote) return answer(preVoteAnswer(core, logOk, nowMs));
  expireLeaseOfDisruptedLeader(core, request.disruptedLeader);
  // The leadership this vote ends, or ended already: a leader that learned this term from an
  // answer to its appends stepped down before this request arrived, and still says so, or the
  // candidate would never know and the other followers would refuse it by lease.
  const ledTerm = deposedLeaderTerm(core, request.term);
  let disrupted = ledTerm !== undefined;
  if (core.role === "leader") {
    // braft: a leader yields to a newer election (it got past a pre-vote, TimeoutNow or vote()).
    if (request.term === core.term) return answer({ granted: false });
    disrupted = true;
  } else if (core.inFollowerLease(nowMs)) {
    return answer({ granted: false, rejectedByLease: logOk });
  }
  if (request.term > core.term) {
    const reason = `vote request of ${request.serverId} in term ${request.term}`;
    core.becomeFollower(request.term, "", nowMs, reason);
  }
  const free = core.votedFor === "" || core.votedFor === request.serverId;
  const granted = free && core.role === "follower" && logOk;
  if (granted) {
    if (core.votedFor !== request.serverId) core.setVote(request.serverId);
    core.resetElectionDeadline(nowMs);
  }
  answer({ granted, disrupted, ...(ledTerm === undefined ? {} : { previousTerm: ledTerm }) });
}

/** The term this node led and stepped down from for `term`, if it did. */
function deposedLeaderTerm(core: CoreState, term: number): number | undefined {
  const deposed = core.deposed;
  return core.role === "follower" && deposed?.toTerm === term && core.term === term
    ? deposed.ledTerm
    : undefined;
}

/** A pre-vote changes nothing here; it only says whether a real vote would be granted. */
function preVoteAnswer(core: CoreState, logOk: boolean, nowMs: number): VoteAnswer {
  if (core.role === "leader") {
    // A leader holds a lease over itself; it says whether it would be disrupted (braft).
    return { granted: false, rejectedByLease: logOk, disrupted: leaderOf(core)?.transfer === undefined };
  }
  const leaseHolds = core.inFollowerLease(nowMs);
  return { granted: logOk && !leaseHolds, rejectedByLease: logOk && leaseHolds };
}

/**
 * The candidate names the leader it disrupted: a follower of exactly that leader in that term
 * may vote at once, since that leader has stepped down and serves no lease reads any more.
 */
function expireLeaseOfDisruptedLeader(core: CoreState, leader: TermLeader | undefined): void {
  if (leader === undefined || (core.role !== "follower" && core.role !== "preCandidate")) return;
  if (leader.term === core.term && leader.peerId === core.leaseLeaderId) core.expireFollowerLease();
}

export function handleVoteResponse(
  core: CoreState,
  from: PeerKey,
  request: RequestVoteRequest,
  response: RequestVoteResponse,
  nowMs: number,
): void {
  // A newer term in the answer was handled before (RaftCore.stepResponse).
  const round = votesOf(core);
  const role = request.preVote ? "preCandidate" : "candidate";
  if (round === undefined || core.role !== role || round.preVote !== request.preVote) return;
  if (request.term !== round.term) return; // an answer to an older round
  const leaseOnly = !response.granted && response.rejectedByLease === true;
  // Outside a triggered pre-vote, a lease refusal is a refusal (braft: "internal vote should
  // respect lease"); a real vote keeps it, to count once the leader is disrupted.
  if ((!response.granted && !leaseOnly) || (leaseOnly && round.preVote && !round.triggered)) {
    round.refused.add(from);
    tallyVotes(core, nowMs);
    return;
  }
  if (response.disrupted === true) {
    round.disruptedLeader ??= { peerId: from, term: response.previousTerm ?? core.term };
  }
  if (leaseOnly) round.reserved.add(from);
  else grant(core, round, from);
  if (round.disruptedLeader !== undefined) releaseReserved(core, round, nowMs);
  tallyVotes(core, nowMs);
}

function grant(core: CoreState, round: VoteRound, peer: PeerKey): void {
  round.granted.add(peer);
  // The leader of our own lease voted for us: our lease no longer protects it (braft).
  if (peer === core.leaseLeaderId) round.selfGranted = true;
}

/**
 * A leader was disrupted: the peers that refused only by lease count now (pre-vote), or are
 * asked again naming that leader (vote), and their lease no longer stands in the way.
 */
function releaseReserved(core: CoreState, round: VoteRound, nowMs: number): void {
  if (round.reserved.size === 0) return;
  const peers = [...round.reserved];
  round.reserved.clear();
  if (round.preVote) {
    for (const peer of peers) grant(core, round, peer);
    return;
  }
  requestVotes(core, peers, false, round.disruptedLeader, nowMs);
}

/** Time passed: the candidate's own follower lease may have expired, so its own vote counts. */
export function grantSelfWhenLeaseExpired(core: CoreState, nowMs: number): void {
  const round = votesOf(core);
  if (round === undefined || round.selfGranted || core.inFollowerLease(nowMs)) return;
  round.selfGranted = true;
  tallyVotes(core, nowMs);
}

/** Moves on once the round is decided: pre-vote won starts the real election; election won leads. */
export function tallyVotes(core: CoreState, nowMs: number): void {
  const round = votesOf(core);
  if (round === undefined) return;
  const self = core.config.self;
  const result = quorumVoteResult(core.voters(), (peer) => {
    if (peer === self) return round.selfGranted ? true : undefined;
    if (round.granted.has(peer)) return true;
    return round.refused.has(peer) ? false : undefined;
  });
  if (result !== "won") return;
  if (core.role === "preCandidate") core.becomeCandidate(nowMs);
  else if (core.role === "candidate") core.becomeLeader(nowMs);
}
