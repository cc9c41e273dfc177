/**
 * Snapshots in the protocol: a leader whose follower needs compacted entries asks the shell to
 * send a snapshot; a follower hands a received one to the shell and, once the shell has loaded
 * it, replaces its log with it.
 */
import type { Send } from "./events.js";
import type { InstallSnapshotRequest, InstallSnapshotResult, SnapshotMetaData } from "./messages.js";
import type { Progress } from "./progress.js";
import { leaderOf, type CoreState } from "./core-state.js";
import type { PeerKey } from "./types.js";

/** Leader: `peer` needs entries this log no longer holds; ask the shell to send the snapshot. */
export function sendSnapshot(core: CoreState, peer: PeerKey, progress: Progress, nowMs: number): void {
  // A witness's snapshots hold no state: a replica loading one would lose its data (braft's
  // Replicator refuses too). The follower waits for a full leader.
  if (core.config.witness === true) return;
  const request = { groupId: core.config.groupId, serverId: core.config.self, peerId: peer, term: core.term };
  const send = core.send({ kind: "installSnapshot", to: peer, request }, nowMs, {
    afterPersist: false,
    heartbeat: false,
  });
  progress.becomeSnapshot(send.seq);
}

/** Leader: the install answered (or failed when `result` is undefined). */
export function handleSnapshotResult(
  core: CoreState,
  send: Send,
  result: InstallSnapshotResult | undefined,
): void {
  if (send.message.kind !== "installSnapshot") return;
  const peer = send.message.to;
  // A newer term in an answer was handled before (RaftCore.stepResponse).
  const leader = leaderOf(core);
  if (leader === undefined || send.message.request.term !== core.term) return;
  const progress = leader.progress.get(peer);
  if (progress === undefined) return;
  if (result === undefined) {
    progress.onSnapshotFailed(send.seq, core.nextSeq());
    return;
  }
  progress.onAnswer(send.createdAtMs);
  progress.onSnapshotDone(send.seq, result.success, result.lastIncludedIndex, core.nextSeq());
}

/** Follower: a leader sent a snapshot. Its reply waits until the shell calls finishInstall. */
export function handleInstallRequest(
  core: CoreState,
  request: InstallSnapshotRequest,
  replyId: number,
  nowMs: number,
): void {
  // Its term was handled before (stepRequestTerm): it is this node's term now.
  if (!core.acceptLeader(request.term, request.serverId, nowMs)) {
    core.reply({ kind: "installSnapshot", replyId, response: { term: core.term, success: false } });
    return;
  }
  core.emit({ type: "installSnapshot", replyId, request });
}

/**
 * Follower: the shell installed (or failed to install) a snapshot. When installed, the log is
 * replaced by the snapshot's last entry: the shell already reset the durable log to it.
 */
export function finishInstall(
  core: CoreState,
  replyId: number,
  meta: SnapshotMetaData | undefined,
  logReset: boolean,
): void {
  if (meta !== undefined && meta.lastIncludedIndex > core.commitIndex) core.resetToSnapshot(meta, logReset);
  core.reply({
    kind: "installSnapshot",
    replyId,
    response: { term: core.term, success: meta !== undefined },
  });
}
