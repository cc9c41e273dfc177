/**
 * Membership changes as braft stages them (ConfigurationCtx): new peers first catch up (their
 * log within `catchupMargin` of the leader's); then the joint configuration is committed, then
 * the new one. Catching up is checked every `catchupTimeoutMs` (braft's on_caughtup): a new peer
 * still behind then keeps the change waiting another period while it is alive and making
 * progress, and fails it with ECATCHUP otherwise. A change of a single peer skips the
 * joint stage, as braft does. One change at a time. A leader that is not in the new
 * configuration steps down once it is committed and wakes the best follower.
 */
import { isJoint, normalizeConfiguration, replicationTargets } from "./configuration.js";
import { RaftError } from "./errors.js";
import { Progress } from "./progress.js";
import {
  leaderOf,
  type ChangeStage,
  type CoreState,
  type LeaderState,
  type MembershipChange,
} from "./core-state.js";

export type { MembershipChange };
import { sendAppendsTo } from "./replication.js";
import { EMPTY_DATA, EntryType, type ConfigurationData, type PeerKey } from "./types.js";

/** Starts changing the configuration to `target` (leader only). Undefined when started. */
export function startChange(
  core: CoreState,
  target: ConfigurationData,
  nowMs: number,
): RaftError | undefined {
  const leader = leaderOf(core);
  if (leader === undefined) return core.notLeaderError();
  if (leader.change !== undefined || isJoint(core.confs.last().conf)) {
    return new RaftError("EBUSY", "another configuration change is in progress");
  }
  if (leader.transfer !== undefined) return new RaftError("EBUSY", "leadership is being transferred");
  if (core.commitIndex < leader.startIndex)
    return new RaftError("EBUSY", "the leader has not committed its first entry yet");
  const wanted = normalizeConfiguration(target);
  if (wanted.peers.length === 0) return new RaftError("EINVAL", "the new configuration has no peers");
  if (sameConfiguration(wanted, core.confs.last().conf)) {
    core.emit({ type: "changeDone", error: undefined });
    return undefined;
  }
  const change: MembershipChange = {
    target: wanted,
    stage: "catchingUp",
    entryIndex: 0,
    catchUpDeadlineMs: 0,
    catchUpMarks: new Map(),
  };
  leader.change = change;
  for (const peer of replicationTargets(wanted)) addProgress(core, leader, peer, nowMs);
  startCatchUpPeriod(core, leader, change, nowMs);
  advanceChange(core, nowMs);
  return undefined;
}

/** Moves the change on when its stage is complete; called on acks, commits and ticks. */
export function advanceChange(core: CoreState, nowMs: number): void {
  const leader = leaderOf(core);
  const change = leader?.change;
  if (leader === undefined || change === undefined) return;
  if (change.stage === "catchingUp") {
    const lagging = laggingPeers(core, leader, change.target);
    if (lagging.length > 0) {
      if (nowMs >= change.catchUpDeadlineMs) extendOrAbortCatchUp(core, leader, change, lagging, nowMs);
      return;
    }
    const old = core.confs.last().conf;
    const single = symmetricDifference(old.peers, change.target.peers) <= 1;
    if (single) appendStage(core, leader, change, "stable", change.target, nowMs);
    else appendStage(core, leader, change, "joint", { ...change.target, oldPeers: old.peers }, nowMs);
    return;
  }
  if (core.commitIndex < change.entryIndex) return;
  if (change.stage === "joint") {
    appendStage(core, leader, change, "stable", change.target, nowMs);
    return;
  }
  finishChange(core, leader, nowMs);
}

/** Leadership ended mid-change: the next leader finishes or rolls back what is in the log. */
export function dropChange(leader: LeaderState, core: CoreState, reason: string): void {
  const change = leader.change;
  if (change === undefined) return;
  leader.change = undefined;
  // Once a configuration entry is in the log, a later leader may still commit the change.
  const outcome = change.entryIndex === 0 ? "refused" : "unknown";
  core.emit({
    type: "changeDone",
    error: new RaftError("EPERM", `leadership lost during the change: ${reason}`, { outcome }),
  });
}

/** A new leader inherits a joint configuration: it completes the change to the new half. */
export function resumeJointChange(core: CoreState, leader: LeaderState): void {
  const conf = core.confs.last().conf;
  if (!isJoint(conf) || leader.change !== undefined) return;
  const target = normalizeConfiguration({ ...conf, oldPeers: undefined });
  leader.change = {
    target,
    stage: "joint",
    entryIndex: core.confs.last().id.index,
    catchUpDeadlineMs: 0,
    catchUpMarks: new Map(),
  };
}

/** braft's get_catchup_timeout_ms: 0 means the election timeout. */
function catchUpPeriodMs(core: CoreState): number {
  return core.config.catchupTimeoutMs > 0 ? core.config.catchupTimeoutMs : core.config.electionTimeoutMs;
}

/** Opens a catch-up period: notes where each peer stands, to measure its progress at the end. */
function startCatchUpPeriod(
  core: CoreState,
  leader: LeaderState,
  change: MembershipChange,
  nowMs: number,
): void {
  change.catchUpDeadlineMs = nowMs + catchUpPeriodMs(core);
  change.catchUpMarks.clear();
  for (const peer of change.target.peers) {
    const progress = leader.progress.get(peer);
    if (progress === undefined) continue;
    const { matchIndex, installsSent, installsRefused } = progress;
    change.catchUpMarks.set(peer, { matchIndex, installsSent, installsRefused });
  }
}

/**
 * A catch-up period ended with peers still behind. braft waits another period for a peer that
 * is still alive (on_caughtup); tsraft also asks that it made progress, so a live peer that can
 * never catch up (it refuses every install, say) fails the change instead of holding it forever.
 */
function extendOrAbortCatchUp(
  core: CoreState,
  leader: LeaderState,
  change: MembershipChange,
  lagging: readonly PeerKey[],
  nowMs: number,
): void {
  for (const peer of lagging) {
    const stalled = whyStalled(core, leader, change, peer, nowMs);
    if (stalled !== undefined) {
      abortChange(
        core,
        leader,
        new RaftError("ECATCHUP", `new peer ${peer} did not catch up: ${stalled}`, { outcome: "refused" }),
      );
      return;
    }
  }
  startCatchUpPeriod(core, leader, change, nowMs);
}

/**
 * Why a lagging peer is not worth another period, or undefined when it is. Alive: it answered a
 * request sent within the last election timeout (braft's test on last_rpc_send_timestamp).
 * Progressing: its log advanced during the period, or an install to it ran during the period and
 * none was refused (an install moves no match index until it ends, however long the copy).
 */
function whyStalled(
  core: CoreState,
  leader: LeaderState,
  change: MembershipChange,
  peer: PeerKey,
  nowMs: number,
): string | undefined {
  const progress = leader.progress.get(peer);
  const mark = change.catchUpMarks.get(peer);
  if (progress === undefined || mark === undefined) return "it is not replicated to";
  const { electionTimeoutMs } = core.config;
  if (nowMs - progress.lastAckSentAtMs > electionTimeoutMs)
    return `no answer to a request sent in the last ${electionTimeoutMs} ms`;
  if (progress.matchIndex > mark.matchIndex) return undefined;
  const periodMs = catchUpPeriodMs(core);
  if (progress.installsRefused > mark.installsRefused)
    return `it refused the snapshot in the last ${periodMs} ms`;
  const installing = progress.state === "snapshot" || progress.installsSent > mark.installsSent;
  return installing ? undefined : `its log did not advance in ${periodMs} ms`;
}

function appendStage(
  core: CoreState,
  leader: LeaderState,
  change: MembershipChange,
  stage: ChangeStage,
  conf: ConfigurationData,
  nowMs: number,
): void {
  const index = core.log.lastIndex() + 1;
  change.stage = stage;
  change.entryIndex = index;
  core.appendLocal([{ index, term: core.term, type: EntryType.CONFIGURATION, data: EMPTY_DATA, conf }]);
  for (const [peer, progress] of leader.progress) sendAppendsTo(core, peer, progress, nowMs);
}

function finishChange(core: CoreState, leader: LeaderState, nowMs: number): void {
  const change = leader.change;
  if (change === undefined) return;
  leader.change = undefined;
  const keep = new Set(replicationTargets(change.target));
  for (const peer of [...leader.progress.keys()]) if (!keep.has(peer)) leader.progress.delete(peer);
  core.emit({ type: "changeDone", error: undefined });
  if (!change.target.peers.includes(core.config.self)) {
    // braft: a removed leader steps down and wakes the most up-to-date follower.
    core.transferLeadership(undefined, nowMs);
    core.becomeFollower(core.term, "", nowMs, "this leader was removed from the configuration");
  }
}

function abortChange(core: CoreState, leader: LeaderState, error: RaftError): void {
  const change = leader.change;
  if (change === undefined) return;
  leader.change = undefined;
  const keep = new Set(replicationTargets(core.confs.last().conf));
  for (const peer of [...leader.progress.keys()]) if (!keep.has(peer)) leader.progress.delete(peer);
  core.emit({ type: "changeDone", error });
}

function addProgress(core: CoreState, leader: LeaderState, peer: PeerKey, nowMs: number): void {
  if (peer === core.config.self || leader.progress.has(peer)) return;
  leader.progress.set(peer, new Progress(core.log.lastIndex() + 1, nowMs));
}

/** The new voters of `target` not yet within `catchupMargin` of this leader's log. */
function laggingPeers(core: CoreState, leader: LeaderState, target: ConfigurationData): PeerKey[] {
  const current = new Set(core.confs.last().conf.peers);
  const last = core.log.lastIndex();
  return target.peers.filter((peer) => {
    if (current.has(peer) || peer === core.config.self) return false;
    const progress = leader.progress.get(peer);
    // It must have accepted an append (braft: the replicator succeeded once), not merely be near:
    // on a short log a peer that never answered is "within the margin" too.
    if (progress === undefined || progress.state !== "replicate") return true;
    return last - progress.matchIndex > core.config.catchupMargin;
  });
}

function symmetricDifference(a: readonly PeerKey[], b: readonly PeerKey[]): number {
  const left = new Set(a);
  const right = new Set(b);
  return [...left].filter((p) => !right.has(p)).length + [...right].filter((p) => !left.has(p)).length;
}

function sameConfiguration(a: ConfigurationData, b: ConfigurationData): boolean {
  const key = (c: ConfigurationData): string =>
    JSON.stringify([c.peers, c.oldPeers ?? [], c.learners ?? [], c.oldLearners ?? []]);
  return key(normalizeConfiguration(a)) === key(normalizeConfiguration(b));
}
