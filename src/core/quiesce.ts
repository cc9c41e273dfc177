/**
 * Quiescent groups (tsraft's extension, docs/quiescence.md; CockroachDB's quiesced ranges, TiKV's
 * hibernate regions). A leader whose live followers hold its whole log, with nothing pending for
 * `quiesceIdleMs`, sends each one Quiesce message (with its commit index) and stops
 * heartbeating; a follower that accepts it stops its election timer. Neither arms a timer while
 * quiet. Any input for the group wakes it: the leader heartbeats at once, a follower re-arms its
 * election timer. The shell wakes quiet followers whose leader's process stopped answering the
 * process-pair liveness (node/process-liveness.ts), so they elect as after any leader failure.
 * Followers whose process is dead are left out when the rest make a quorum; their return wakes
 * the leader (docs/quiescence.md, "A dead follower").
 *
 * Safety does not depend on any of this: quiet only stops timers. A quiet follower's lease
 * (lastLeaderContactMs) is renewed from the leader's process liveness when it wakes, which can
 * only make it refuse votes longer; the leader's lease still counts only acknowledged appends, so
 * it lapses an election timeout after quiescing and a read after that runs a ReadIndex round.
 */
import { leaderOf, type CoreState, type LeaderQuiescence, type LeaderState } from "./core-state.js";
import { invariant } from "./errors.js";
import type { QuiesceRequest, QuiesceResponse } from "./messages.js";
import { firstToCampaign } from "./campaign-order.js";
import { quorumVoteResult } from "./quorum.js";
import type { PeerKey } from "./types.js";

export type { LeaderQuiescence, QuiesceRequest, QuiesceResponse };

/**
 * A new leader's quiescence state: awake, idle from now, with the short idle period. A follower
 * asks a leader to wake only when it went quiet under that leader in the current term
 * (node-quiescence.ts), and no follower has gone quiet in a term whose leadership just began.
 * After a leader's process dies, thousands of groups elect at once on the survivors
 * (the many-groups bench), and the three heartbeat rounds each new leader sent before
 * quiescing competed with the elections still running.
 */
export function newLeaderQuiescence(nowMs: number, lastIndex: number): LeaderQuiescence {
  return { quiet: false, idleSinceMs: nowMs, lastIndexSeen: lastIndex, shortIdle: true };
}

/** Whether this node's group is quiet here (as leader or follower). */
export function isQuiet(core: CoreState): boolean {
  const leader = leaderOf(core);
  return leader !== undefined ? leader.quiescence.quiet : core.quiet;
}

/**
 * At a heartbeat time: quiesces the group when it has been idle long enough. True when it did
 * (the caller then sends no heartbeat).
 */
export function maybeQuiesce(core: CoreState, leader: LeaderState, nowMs: number): boolean {
  const configuredMs = core.config.quiesceIdleMs ?? 0;
  if (configuredMs <= 0) return false;
  const q = leader.quiescence;
  const idleMs = q.shortIdle ? Math.min(configuredMs, core.config.heartbeatIntervalMs) : configuredMs;
  const followers = quiescingFollowers(core, leader, nowMs);
  if (followers === undefined || q.lastIndexSeen !== core.log.lastIndex()) {
    q.idleSinceMs = nowMs;
    q.lastIndexSeen = core.log.lastIndex();
    return false;
  }
  if (nowMs - q.idleSinceMs < idleMs) return false;
  const last = core.log.lastLogId();
  // What quiet followers commit rests on this: nothing moves the commit of a quiet leader, since
  // any new entry wakes the group (docs/quiescence.md, "Commit on quiet groups").
  invariant(
    core.commitIndex === last.index,
    () => `quiescing at commit ${core.commitIndex} below last ${last.index}`,
  );
  q.quiet = true;
  // Only live followers are told: a dead one wakes the leader when its process is heard again.
  const requests = followers.map((peer) => ({
    groupId: core.config.groupId,
    serverId: core.config.self,
    peerId: peer,
    term: core.term,
    lastLogIndex: last.index,
    lastLogTerm: last.term,
    committedIndex: core.commitIndex,
  }));
  core.emit({ type: "quiesced", leaderId: core.config.self, term: core.term, requests });
  return true;
}

/**
 * The followers to quiesce, or undefined while the group is not idle. Idle: nothing to send and
 * nothing pending: every entry durable, committed and applied here, held by every live follower
 * (which answered within two heartbeats), every live follower may quiesce (QuiescePeer: a braft
 * peer may not), and the live followers with this leader make a quorum. No change, transfer or
 * read in progress. A follower whose process is dead (QuiescePeerDead) and that has not answered
 * recently is left out: it cannot campaign, and its return wakes the leader
 * (docs/quiescence.md, "A dead follower").
 */
function quiescingFollowers(core: CoreState, leader: LeaderState, nowMs: number): PeerKey[] | undefined {
  const last = core.log.lastIndex();
  if (core.commitIndex !== last || core.persistedIndex !== last || core.appliedIndex !== last)
    return undefined;
  if (leader.change !== undefined || leader.transfer !== undefined || !leader.reads.idle()) return undefined;
  const canQuiesce = core.config.quiescePeer;
  if (canQuiesce === undefined) return undefined;
  const isDead = core.config.quiescePeerDead ?? (() => false);
  const recentMs = 2 * core.config.heartbeatIntervalMs;
  const live: PeerKey[] = [];
  for (const [peer, progress] of leader.progress) {
    const answeredRecently = progress.answered && nowMs - progress.lastAckSentAtMs <= recentMs;
    if (!answeredRecently && isDead(peer)) continue;
    if (progress.state !== "replicate" || progress.matchIndex !== last || progress.inflight !== 0)
      return undefined;
    if (!answeredRecently || !canQuiesce(peer)) return undefined;
    live.push(peer);
  }
  const self = core.config.self;
  const liveVotes = (peer: PeerKey): true | undefined =>
    peer === self || live.includes(peer) ? true : undefined;
  return quorumVoteResult(core.voters(), liveVotes) === "won" ? live : undefined;
}

/**
 * Follower: the leader quiesces the group. Accepted only from the leader this node follows in
 * its term, with a log ending exactly where the leader's does, durably: then it commits through
 * the leader's commit index and stops its election timer.
 */
export function handleQuiesceRequest(
  core: CoreState,
  request: QuiesceRequest,
  nowMs: number,
): QuiesceResponse {
  const refuse = { term: core.term, success: false };
  if (request.term !== core.term || core.role !== "follower" || core.leaderId !== request.serverId)
    return refuse;
  const last = core.log.lastLogId();
  const logMatches = last.index === request.lastLogIndex && last.term === request.lastLogTerm;
  if (!logMatches || core.persistedIndex !== last.index) return refuse;
  // The leader's commit is its last index (maybeQuiesce), so this commits through it; never past
  // the log this node holds, whatever the message says.
  const commit = Math.min(request.committedIndex, last.index);
  if (commit > core.commitIndex) core.commitIndex = commit;
  core.lastLeaderContactMs = Math.max(core.lastLeaderContactMs, nowMs);
  if (!core.quiet) {
    core.quiet = true;
    core.electionDeadlineMs = Number.POSITIVE_INFINITY;
    core.emit({ type: "quiesced", leaderId: request.serverId, term: core.term, requests: [] });
  }
  return { term: core.term, success: true };
}

/** Leader: a follower's answer to Quiesce (undefined when the call failed). */
/**
 * Whether a follower's answer to the Quiesce of `term` leaves the leader's core as it is: a
 * success, in a term no newer than the one asked in (the core's term can only have passed it).
 * The shell skips such answers, one per follower for every write on a quiet group.
 */
export function quiesceAnswerChangesNothing(term: number, response: QuiesceResponse | undefined): boolean {
  return response?.success === true && response.term <= term;
}

export function handleQuiesceResponse(
  core: CoreState,
  term: number,
  response: QuiesceResponse | undefined,
  nowMs: number,
): void {
  if (response !== undefined && response.term > core.term) {
    core.becomeFollower(response.term, "", nowMs, `higher term ${response.term} in quiesce response`);
    return;
  }
  // A follower that did not go quiet would time out and campaign: the group stays awake.
  if (term === core.term && response?.success !== true) wake(core, nowMs, {});
}

/**
 * Leader: proposals were appended and sent. The idle period counts from now, not from the next
 * heartbeat that notices the new entry. A leader the proposal woke sends no heartbeat of its own
 * now (the appends just sent wake the followers) and may quiesce one heartbeat interval after
 * its last write: followers woken by appends with new entries ask nobody to wake
 * (node-quiescence.ts), so no late ask can wake it again once quiet. After other wakes a
 * follower woken by a heartbeat asks its leader's process to wake the leader, and that ask, up
 * to a liveness period late, must find the leader still awake: those wait `quiesceIdleMs`.
 * Over thousands of groups nearly every write lands on a quiet one (the many-groups bench),
 * and each heartbeat round before quiescing again cost two RPCs.
 */
export function noteProposed(core: CoreState, leader: LeaderState, nowMs: number, woke: boolean): void {
  const q = leader.quiescence;
  q.idleSinceMs = nowMs;
  q.lastIndexSeen = core.log.lastIndex();
  if (!woke) return;
  q.shortIdle = true;
  leader.heartbeatDeadlineMs = nowMs + core.config.heartbeatIntervalMs;
}

/** How a quiet node wakes. */
export interface WakeOptions {
  /**
   * Follower: when its process last heard from the leader's process. Counts as contact with the
   * leader for the follower lease (the leader's process vouched for it meanwhile).
   */
  readonly leaderHeardAtMs?: number | undefined;
  /**
   * Follower: the leader's process stopped answering for an election timeout (or restarted):
   * elect after the random delay only, the timeout has already passed.
   */
  readonly leaderLost?: boolean | undefined;
}

/** Wakes the group here if it is quiet; does nothing otherwise. */
export function wake(core: CoreState, nowMs: number, options: WakeOptions): void {
  const leader = leaderOf(core);
  if (leader !== undefined) {
    if (!leader.quiescence.quiet) return;
    leader.quiescence.quiet = false;
    leader.quiescence.idleSinceMs = nowMs;
    leader.quiescence.shortIdle = false;
    // Heartbeat at once; check-quorum counts from now, as if the leadership had just begun.
    leader.heartbeatDeadlineMs = nowMs;
    leader.stepDownDeadlineMs = nowMs + core.config.electionTimeoutMs;
    core.emit({ type: "woke", term: core.term });
    return;
  }
  if (!core.quiet) return;
  core.quiet = false;
  const heardAtMs = options.leaderHeardAtMs;
  if (heardAtMs !== undefined) core.lastLeaderContactMs = Math.max(core.lastLeaderContactMs, heardAtMs);
  core.resetElectionDeadline(nowMs);
  // One follower per group goes first; the others vote for it (campaign-order.ts).
  if (options.leaderLost === true && firstToCampaign(core)) {
    // The election timeout ran out already (without liveness); only the random part is left.
    core.electionDeadlineMs -= core.config.electionTimeoutMs;
  }
  core.emit({ type: "woke", term: core.term });
}

/** A follower leaving the follower role, or adopting a new term, is no longer quiet. */
export function clearFollowerQuiet(core: CoreState): void {
  if (!core.quiet) return;
  core.quiet = false;
  core.emit({ type: "woke", term: core.term });
}
