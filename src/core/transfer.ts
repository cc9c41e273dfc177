/**
 * Leadership transfer (braft's transfer_leadership_to): the leader stops taking proposals and
 * ends its lease, waits for the target to hold its whole log, then sends it TimeoutNow so it
 * starts an election at once. If no new leader appears within an election timeout, the leader
 * resumes: it leads on with a new lease (braft's handle_transfer_timeout).
 *
 * The target's election still respects the other followers' leases: they vote for it once the
 * old leader answered its RequestVote by stepping down (election.ts), or at once when the old
 * leader said in TimeoutNow that it gave up its lease for good (it is stopping, or leases are
 * off). A transfer refuses to start during a configuration change (braft: EBUSY), so the target
 * always campaigns with the configuration it will lead.
 */
import { isJoint } from "./configuration.js";
import { RaftError } from "./errors.js";
import { isVoter } from "./quorum.js";
import { leaderOf, type CoreState, type LeaderState, type TransferState } from "./core-state.js";

export type { TransferState };
import type { TimeoutNowRequest } from "./messages.js";
import type { PeerKey } from "./types.js";
import { isWitnessPeer, mayCampaign } from "./witness.js";

/**
 * Starts a transfer to `target`, or to the most up-to-date follower when undefined (ANY_PEER).
 * `handover`: the leader is shutting down and wakes a successor whatever it is doing.
 */
export function startTransfer(
  core: CoreState,
  target: PeerKey | undefined,
  nowMs: number,
  handover = false,
): RaftError | undefined {
  const leader = leaderOf(core);
  if (leader === undefined) return core.notLeaderError();
  if (leader.transfer !== undefined)
    return new RaftError("EBUSY", `already transferring leadership to ${leader.transfer.target}`);
  const busy = handover ? undefined : configurationBusy(core, leader);
  if (busy !== undefined) return new RaftError("EBUSY", `${busy}; transfer leadership after it`);
  const chosen = target ?? mostUpToDateFollower(core, leader);
  if (chosen === undefined) return new RaftError("EINVAL", "no follower to transfer leadership to");
  if (chosen === core.config.self) return undefined; // already the leader: nothing to do
  if (isWitnessPeer(core.config, chosen)) {
    return new RaftError("EINVAL", `${chosen} is a witness: it keeps no state machine and cannot lead`);
  }
  const progress = leader.progress.get(chosen);
  if (progress === undefined || !core.voters().current.includes(chosen)) {
    return new RaftError("EINVAL", `${chosen} is not a voter of this group`);
  }
  if (progress.lastAckSentAtMs + core.config.electionTimeoutMs < nowMs) {
    return new RaftError("EHOSTUNREACH", `${chosen} has not answered for an election timeout`);
  }
  leader.transfer = {
    target: chosen,
    deadlineMs: nowMs + core.config.electionTimeoutMs,
    timeoutNowSent: false,
    oldLeaderSteppedDown: handover || !core.config.leaderLeaseEnabled,
  };
  // braft's ETRANSFERLEADERSHIP on_leader_stop; a shutdown reports its own stop.
  if (!handover) core.emit({ type: "transferStarted", term: core.term, target: chosen });
  maybeSendTimeoutNow(core, chosen, nowMs);
  return undefined;
}

/**
 * braft's ConfigurationCtx::is_busy: a change in any stage, or a new leader whose first entry is
 * not committed yet. A target woken then might campaign with a configuration it will not lead.
 */
function configurationBusy(core: CoreState, leader: LeaderState): string | undefined {
  if (leader.change !== undefined || isJoint(core.confs.last().conf))
    return "a configuration change is in progress";
  if (core.commitIndex < leader.startIndex) return "this new leader has not committed its first entry yet";
  return undefined;
}

/** Sends TimeoutNow once the target holds the leader's whole log. */
export function maybeSendTimeoutNow(core: CoreState, peer: PeerKey, nowMs: number): void {
  const leader = leaderOf(core);
  const transfer = leader?.transfer;
  if (leader === undefined || transfer === undefined || transfer.target !== peer || transfer.timeoutNowSent)
    return;
  if ((leader.progress.get(peer)?.matchIndex ?? 0) < core.log.lastIndex()) return;
  transfer.timeoutNowSent = true;
  const request: TimeoutNowRequest = {
    groupId: core.config.groupId,
    serverId: core.config.self,
    peerId: peer,
    term: core.term,
    oldLeaderSteppedDown: transfer.oldLeaderSteppedDown,
  };
  core.send({ kind: "timeoutNow", to: peer, request }, nowMs, { afterPersist: false, heartbeat: false });
}

/** The transfer timed out: no new leader appeared, so this one leads on with a new lease. */
export function expireTransfer(core: CoreState, leader: LeaderState, nowMs: number): void {
  const transfer = leader.transfer;
  if (transfer === undefined || nowMs < transfer.deadlineMs) return;
  leader.transfer = undefined;
  core.leaseEpoch++;
  core.emit({
    type: "transferEnded",
    succeeded: false,
    reason: `${transfer.target} did not take over in time`,
  });
  core.emit({ type: "leaderResumed", term: core.term });
}

/**
 * A witness leader hands over as soon as it may (braft's check_witness): to the most up-to-date
 * full replica, once this leader's first entry is committed. A transfer that times out (its
 * target fell silent) is started again at the next tick, to whichever replica is best then.
 */
export function handOverIfWitness(core: CoreState, leader: LeaderState, nowMs: number): void {
  if (core.config.witness !== true || leader.transfer !== undefined) return;
  if (core.commitIndex < leader.startIndex) return;
  const target = mostUpToDateFollower(core, leader, nowMs);
  if (target !== undefined) startTransfer(core, target, nowMs);
}

/**
 * The full replica with the longest log (braft's find_the_next_candidate skips witnesses). Given
 * `nowMs`, only among those that answered within an election timeout (braft skips peers with
 * RPC errors), so a dead replica is not chosen over a live one.
 */
function mostUpToDateFollower(core: CoreState, leader: LeaderState, nowMs?: number): PeerKey | undefined {
  let best: { peer: PeerKey; match: number } | undefined;
  for (const [peer, progress] of leader.progress) {
    if (!core.voters().current.includes(peer) || isWitnessPeer(core.config, peer)) continue;
    if (nowMs !== undefined && progress.lastAckSentAtMs + core.config.electionTimeoutMs < nowMs) continue;
    if (best === undefined || progress.matchIndex > best.match) best = { peer, match: progress.matchIndex };
  }
  return best?.peer;
}

/** Follower: the leader asks this node to take over now (TimeoutNow); it campaigns at once. */
export function handleTimeoutNow(
  core: CoreState,
  request: TimeoutNowRequest,
  replyId: number,
  nowMs: number,
): void {
  const { term, serverId: from } = request;
  // A witness that may not lead has no data to lead with: it refuses (braft's would campaign).
  const accept =
    term === core.term && core.role === "follower" && from === core.leaderId && mayCampaign(core.config);
  // With leases, the old leader must stay leader until our RequestVote disrupts it, so that it
  // answers `disrupted` and the other followers' leases let them vote (braft).
  const stepDownOldLeader = request.oldLeaderSteppedDown === true || !core.config.leaderLeaseEnabled;
  core.reply({
    kind: "timeoutNow",
    replyId,
    response: { term: accept && stepDownOldLeader ? term + 1 : core.term, success: accept },
  });
  if (!accept || !isVoter(core.voters(), core.config.self)) return;
  core.setLeader("", nowMs, "leader transferred leadership");
  if (request.oldLeaderSteppedDown !== true) {
    core.becomeCandidate(nowMs);
    return;
  }
  core.expireFollowerLease();
  core.becomeCandidate(nowMs, { peerId: from, term });
}
