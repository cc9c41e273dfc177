/**
 * Leadership transfer (braft's transfer_leadership_to): the leader stops taking proposals, waits
 * for the target to hold its whole log, then sends it TimeoutNow so it starts an election at once
 * (ignoring leases). If no new leader appears within an election timeout, the leader resumes.
 */
import { RaftError } from "./errors.js";
import { isVoter } from "./quorum.js";
import type { RaftCore } from "./raft.js";
import type { PeerKey } from "./types.js";

export interface TransferState {
  readonly target: PeerKey;
  readonly deadlineMs: number;
  timeoutNowSent: boolean;
}

/** Starts a transfer to `target`, or to the most up-to-date follower when undefined (ANY_PEER). */
export function startTransfer(
  core: RaftCore,
  target: PeerKey | undefined,
  nowMs: number,
): RaftError | undefined {
  if (core.role !== "leader") return core.notLeaderError();
  if (core.transfer !== undefined)
    return new RaftError("EBUSY", `already transferring leadership to ${core.transfer.target}`);
  const chosen = target ?? mostUpToDateFollower(core);
  if (chosen === undefined) return new RaftError("EINVAL", "no follower to transfer leadership to");
  if (chosen === core.config.self) return undefined; // already the leader: nothing to do
  const progress = core.progress.get(chosen);
  if (progress === undefined || !core.voters().current.includes(chosen)) {
    return new RaftError("EINVAL", `${chosen} is not a voter of this group`);
  }
  if (progress.lastAckSentAtMs + core.config.electionTimeoutMs < nowMs) {
    return new RaftError("EHOSTUNREACH", `${chosen} has not answered for an election timeout`);
  }
  core.transfer = {
    target: chosen,
    deadlineMs: nowMs + core.config.electionTimeoutMs,
    timeoutNowSent: false,
  };
  maybeSendTimeoutNow(core, chosen, nowMs);
  return undefined;
}

/** Sends TimeoutNow once the target holds the leader's whole log. */
export function maybeSendTimeoutNow(core: RaftCore, peer: PeerKey, nowMs: number): void {
  const transfer = core.transfer;
  if (transfer === undefined || transfer.target !== peer || transfer.timeoutNowSent) return;
  if ((core.progress.get(peer)?.matchIndex ?? 0) < core.log.lastIndex()) return;
  transfer.timeoutNowSent = true;
  const request = { groupId: core.config.groupId, serverId: core.config.self, peerId: peer, term: core.term };
  core.send({ kind: "timeoutNow", to: peer, request }, nowMs, { afterPersist: false, heartbeat: false });
}

/** The transfer timed out: no new leader appeared, so this one goes on leading. */
export function expireTransfer(core: RaftCore, nowMs: number): void {
  const transfer = core.transfer;
  if (transfer === undefined || nowMs < transfer.deadlineMs) return;
  core.transfer = undefined;
  core.emit({
    type: "transferEnded",
    succeeded: false,
    reason: `${transfer.target} did not take over in time`,
  });
}

function mostUpToDateFollower(core: RaftCore): PeerKey | undefined {
  let best: { peer: PeerKey; match: number } | undefined;
  for (const [peer, progress] of core.progress) {
    if (!core.voters().current.includes(peer)) continue;
    if (best === undefined || progress.matchIndex > best.match) best = { peer, match: progress.matchIndex };
  }
  return best?.peer;
}

/** Follower: the leader asks this node to take over now (TimeoutNow); it campaigns at once. */
export function handleTimeoutNow(
  core: RaftCore,
  term: number,
  from: PeerKey,
  replyId: number,
  nowMs: number,
): void {
  const accept = term === core.term && core.role === "follower" && from === core.leaderId;
  core.reply({
    kind: "timeoutNow",
    replyId,
    response: { term: accept ? term + 1 : core.term, success: accept },
  });
  if (!accept || !isVoter(core.voters(), core.config.self)) return;
  core.setLeader("", nowMs, "leader transferred leadership");
  core.becomeCandidate(nowMs, true);
}
