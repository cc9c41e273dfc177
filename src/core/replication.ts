/**
 * Log replication, both sides: the leader's appends and heartbeats (braft's Replicator logic)
 * and the follower's handling of them.
 */
import type { Send } from "./events.js";
import { invariant } from "./errors.js";
import type { AppendEntriesRequest, AppendEntriesResponse } from "./messages.js";
import type { Progress } from "./progress.js";
import { quorumValue } from "./quorum.js";
import { leaderOf, type CoreState } from "./core-state.js";
import { sendSnapshot } from "./snapshot.js";
import { maybeSendTimeoutNow } from "./transfer.js";
import type { PeerKey } from "./types.js";
import { entriesForPeer } from "./witness.js";

// ---- leader side ---------------------------------------------------------------------------

/** Sends to every follower whatever its progress allows. */
export function sendAppends(core: CoreState, nowMs: number): void {
  const leader = leaderOf(core);
  if (leader === undefined) return;
  for (const [peer, progress] of leader.progress) sendAppendsTo(core, peer, progress, nowMs);
}

/** Streams entries to one follower: one probe at a time, or a window of `inflightAppendsMax`. */
export function sendAppendsTo(core: CoreState, peer: PeerKey, progress: Progress, nowMs: number): void {
  const { appendEntriesMax, appendBytesMax, inflightAppendsMax } = core.config;
  if (nowMs < progress.blockedUntilMs) return;
  while (progress.canSend(inflightAppendsMax)) {
    const prevLogIndex = progress.nextIndex - 1;
    const prevLogTerm = core.log.term(prevLogIndex);
    const entries = core.log.slice(progress.nextIndex, appendEntriesMax, appendBytesMax);
    if (prevLogTerm === undefined || entries === undefined) {
      sendSnapshot(core, peer, progress, nowMs); // the entries it needs were compacted
      return;
    }
    if (entries.length === 0 && progress.state === "replicate") return;
    const request: AppendEntriesRequest = {
      groupId: core.config.groupId,
      serverId: core.config.self,
      peerId: peer,
      term: core.term,
      prevLogTerm,
      prevLogIndex,
      entries: entriesForPeer(core.config, peer, entries),
      committedIndex: core.commitIndex,
    };
    core.send({ kind: "append", to: peer, request }, nowMs, { afterPersist: false, heartbeat: false });
    progress.onSent(prevLogIndex + entries.length);
  }
}

/**
 * Heartbeats go to every follower each heartbeat interval. They name the follower's match point
 * as the previous entry, which it surely holds, so a heartbeat never fails on a log mismatch
 * while appends are in flight, and it safely carries the commit index.
 *
 * When the match point was compacted (the follower needs, or is installing, a snapshot) the
 * heartbeat names entry 0 instead, as braft's replicator does: it matches on every log, commits
 * nothing there (a follower commits at most up to the previous entry), and keeps the follower in
 * this leader's lease for the whole install instead of letting it time out and campaign.
 */
export function broadcastHeartbeats(core: CoreState, nowMs: number): void {
  const leader = leaderOf(core);
  if (leader === undefined) return;
  for (const [peer, progress] of leader.progress) {
    const matchTerm = core.log.term(progress.matchIndex);
    const prevLogIndex = matchTerm === undefined ? 0 : progress.matchIndex;
    const request: AppendEntriesRequest = {
      groupId: core.config.groupId,
      serverId: core.config.self,
      peerId: peer,
      term: core.term,
      prevLogTerm: matchTerm ?? 0,
      prevLogIndex,
      entries: [],
      committedIndex: core.commitIndex,
    };
    core.send({ kind: "append", to: peer, request }, nowMs, { afterPersist: false, heartbeat: true });
    progress.onHeartbeat();
    probeFromLogStartIfWitness(core, progress);
    sendAppendsTo(core, peer, progress, nowMs);
  }
}

/**
 * A witness leader sends no snapshot (snapshot.ts). A follower it probes below the start of its
 * log (after a failed RPC, a probe restarts from the match point) is probed once per heartbeat at
 * that start instead, where a replica that was down may hold every entry before; one that does
 * not is left behind, and the witness hands leadership to a replica that is not (transfer.ts).
 * The probe names the entry before as its previous one, so it starts one entry later when the
 * log no longer knows that entry's term (storage may not, after a restart): a probe without a
 * previous term would ask for the snapshot a witness never sends, and stall (sim seed 2199).
 */
function probeFromLogStartIfWitness(core: CoreState, progress: Progress): void {
  if (core.config.witness !== true || progress.state !== "probe") return;
  const start = core.log.firstIndex();
  const firstProbed = core.log.term(start - 1) === undefined ? start + 1 : start;
  if (progress.nextIndex < firstProbed) progress.nextIndex = firstProbed;
}

export function handleAppendResponse(
  core: CoreState,
  send: Send,
  response: AppendEntriesResponse,
  nowMs: number,
): void {
  if (send.message.kind !== "append") return;
  const { request, to: peer } = send.message;
  // A newer term in the answer was handled before (RaftCore.stepResponse).
  const leader = leaderOf(core);
  if (leader === undefined || request.term !== core.term) return;
  const progress = leader.progress.get(peer);
  if (progress === undefined) return;
  progress.onAnswer(send.createdAtMs);
  leader.reads.onAck(core, peer, send.seq, nowMs); // an answer in our term confirms our leadership
  progress.readonly = response.readonly === true;
  if (send.heartbeat) {
    // Heartbeats name the match point; refusing one means the follower lost its log.
    if (!response.success && response.lastLogIndex < progress.matchIndex && progress.state !== "snapshot") {
      progress.onLostLog(response.lastLogIndex, core.nextSeq());
      sendAppendsTo(core, peer, progress, nowMs);
    }
    return;
  }
  if (response.success) {
    if (progress.onAccepted(request.prevLogIndex + request.entries.length, send.seq))
      maybeCommit(core, nowMs);
    maybeSendTimeoutNow(core, peer, nowMs);
    core.advanceChange(nowMs);
  } else {
    progress.onRejected(send.seq, nextIndexAfterReject(request, response), core.nextSeq());
  }
  sendAppendsTo(core, peer, progress, nowMs);
}

/**
 * braft's rule: jump back to just after the follower's last entry when its log is shorter than
 * what we tried; otherwise step back one entry (its entry there has another term).
 */
function nextIndexAfterReject(request: AppendEntriesRequest, response: AppendEntriesResponse): number {
  const tried = request.prevLogIndex + 1;
  if (response.lastLogIndex + 1 < tried) return response.lastLogIndex + 1;
  return Math.max(1, tried - 1);
}

/**
 * Advances the commit index to what a quorum holds. Only an entry of the current term is
 * committed by counting (Raft §5.4.2); earlier ones commit with it.
 */
export function maybeCommit(core: CoreState, nowMs: number): void {
  const quorumIndex = quorumValue(core.voters(), (peer) =>
    peer === core.config.self ? core.persistedIndex : (leaderOf(core)?.progress.get(peer)?.matchIndex ?? 0),
  );
  if (quorumIndex <= core.commitIndex) return;
  if (core.log.term(quorumIndex) !== core.term) return;
  core.commitIndex = quorumIndex;
  leaderOf(core)?.reads.onCommit(core, nowMs);
  core.advanceChange(nowMs);
}

// ---- follower side -------------------------------------------------------------------------

export function handleAppendRequest(
  core: CoreState,
  received: AppendEntriesRequest,
  replyId: number,
  nowMs: number,
): void {
  const respond = (success: boolean): void => {
    const response = {
      term: core.term,
      success,
      lastLogIndex: core.log.lastIndex(),
      readonly: core.readonly,
    };
    core.reply({ kind: "append", replyId, response });
  };
  // Its term was handled before (stepRequestTerm): it is this node's term now.
  if (!core.acceptLeader(received.term, received.serverId, nowMs)) return respond(false);
  const matched = received.prevLogIndex + received.entries.length;
  const request = skipCommitted(core, received);
  const prevMatches =
    request.prevLogIndex <= core.commitIndex || core.log.matchTerm(request.prevLogIndex, request.prevLogTerm);
  if (!prevMatches) return respond(false);
  appendFromLeader(core, request);
  const commit = Math.min(request.committedIndex, matched);
  if (commit > core.commitIndex) core.commitIndex = commit;
  respond(true);
}

/**
 * Entries this node has committed match the leader's (a leader holds every committed entry), so
 * the request is cut to what follows the commit point. This also covers entries compacted into
 * this node's snapshot, whose terms the log no longer knows.
 */
function skipCommitted(core: CoreState, request: AppendEntriesRequest): AppendEntriesRequest {
  if (request.prevLogIndex >= core.commitIndex) return request;
  const skip = Math.min(request.entries.length, core.commitIndex - request.prevLogIndex);
  const prev = request.entries[skip - 1];
  if (prev === undefined) return request;
  return {
    ...request,
    prevLogIndex: prev.index,
    prevLogTerm: prev.term,
    entries: request.entries.slice(skip),
  };
}

/** Appends the leader's entries after the matching prefix, truncating a conflicting suffix. */
function appendFromLeader(core: CoreState, request: AppendEntriesRequest): void {
  const conflict = core.log.findConflict(request.entries);
  if (conflict === undefined) return;
  invariant(
    conflict > core.commitIndex,
    () => `leader ${request.serverId} conflicts with committed entry ${conflict}`,
  );
  const first = conflict - request.prevLogIndex - 1;
  const newEntries = request.entries.slice(first);
  core.confs.truncateSuffix(conflict - 1);
  core.log.overwrite(newEntries);
  core.persistedIndex = Math.min(core.persistedIndex, conflict - 1);
  for (const entry of newEntries) {
    if (entry.conf !== undefined)
      core.confs.add({ id: { index: entry.index, term: entry.term }, conf: entry.conf });
  }
}
