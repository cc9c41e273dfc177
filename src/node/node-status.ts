/**
 * NodeStatus: the raft_stat fields of one node, as plain data. Everything here is computed when
 * asked (a status page request), from state the node keeps anyway; all that is tracked for it on
 * the hot path is a few counters and send times per Replicator and the FSMCaller's current task.
 */
import type { Role } from "../core/types.js";
import type { PreparedNode } from "./node-init.js";
import type { Replicator } from "./replicator.js";

/** braft's node states, as raft_stat prints them. */
export type NodeState =
  "LEADER" | "TRANSFERRING" | "CANDIDATE" | "FOLLOWER" | "ERROR" | "UNINITIALIZED" | "SHUTTING" | "SHUTDOWN";

/** One follower as its leader sees it. */
export interface ReplicatorStatus {
  readonly peerId: string;
  readonly nextIndex: number;
  readonly matchIndex: number;
  readonly state: "probe" | "replicate" | "snapshot";
  readonly inflightAppends: number;
  readonly inflightRpcs: number;
  readonly consecutiveFailures: number;
  /** The leader's last index minus `matchIndex`: entries this follower still lacks. */
  readonly lag: number;
  /** Milliseconds since the newest request to this peer was sent (braft's last_rpc_send_timestamp); absent if none. */
  readonly lastRpcSendAgeMs?: number | undefined;
  /** Milliseconds since the newest heartbeat to this peer was sent; absent if none. */
  readonly lastHeartbeatSendAgeMs?: number | undefined;
  /** Milliseconds since this peer last answered anything; absent if it never did. */
  readonly lastResponseAgeMs?: number | undefined;
  /** Requests sent to this peer: heartbeats, appends with entries, snapshot installs (braft's hc, ac, ic). */
  readonly heartbeatCount: number;
  readonly appendEntriesCount: number;
  readonly installSnapshotCount: number;
}

/** One of braft's node timers, as its RepeatedTimerTask::describe shows it. */
export interface TimerStatus {
  readonly timeoutMs: number;
  /** Armed (braft's SCHEDULING) rather than stopped. */
  readonly running: boolean;
  /** While running: milliseconds until it fires. */
  readonly dueInMs?: number | undefined;
}

/** braft's ConfigurationCtx stages. */
export type ConfStage = "STAGE_NONE" | "STAGE_CATCHING_UP" | "STAGE_JOINT" | "STAGE_STABLE";

export interface NodeStatus {
  readonly groupId: string;
  readonly peerId: string;
  readonly state: NodeState;
  readonly term: number;
  /** The leader known to this node, "" if none. */
  readonly leaderId: string;
  readonly votedFor: string;
  readonly peers: readonly string[];
  readonly oldPeers: readonly string[];
  readonly learners: readonly string[];
  /** Index of the configuration entry in force. */
  readonly confIndex: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastLogTerm: number;
  /** Last index durable on this node's disk. */
  readonly diskIndex: number;
  readonly committedIndex: number;
  readonly appliedIndex: number;
  /** braft's read-only mode: applies through this node fail with EREADONLY. */
  readonly readonly: boolean;
  /** Applies waiting to be committed on this leader. */
  readonly pendingApplies: number;
  readonly electionTimeoutMs: number;
  readonly lastSnapshotIndex: number;
  readonly lastSnapshotTerm: number;
  /** braft's snapshot status: IDLE, SAVING, LOADING or DOWNLOADING. */
  readonly snapshotStatus: string;
  /** While DOWNLOADING: the snapshot being installed. */
  readonly snapshotDownloading?:
    { readonly lastIncludedIndex: number; readonly lastIncludedTerm: number } | undefined;
  readonly replicators: readonly ReplicatorStatus[];
  /** Index of the oldest entry waiting to commit on this leader (braft's pending_index); 0 when none. */
  readonly pendingIndex: number;
  readonly heartbeatIntervalMs: number;
  /** A configuration change is in progress on this leader (braft's changing_conf). */
  readonly changingConf: boolean;
  readonly confStage: ConfStage;
  /** During a change: the configuration being moved to (braft's new_peers). */
  readonly newPeers: readonly string[];
  /** Follower: milliseconds since it last heard from a leader (braft's last_msg_to_now). */
  readonly lastMsgToNowMs?: number | undefined;
  /** What the state machine is busy with: `Idle`, `Applying log_index=N`, `Saving snapshot`... */
  readonly stateMachine: string;
  /** Beyond braft: the group is quiet here, with no timer armed (docs/quiescence.md). */
  readonly quiet: boolean;
  /**
   * braft's timers: election (follower), vote (candidate), stepdown (leader, check-quorum) and
   * snapshot. tsraft drives the first three from one deadline of its core.
   */
  readonly timers: {
    readonly election: TimerStatus;
    readonly vote: TimerStatus;
    readonly stepdown: TimerStatus;
    readonly snapshot: TimerStatus;
  };
}

interface StatusSource {
  readonly groupId: string;
  readonly peerId: { toString(): string };
}

/** What NodeStatus is computed from besides the node's parts: the running node's own state. */
export interface NodeStatusInput {
  readonly lifecycle: string;
  readonly replicators: ReadonlyMap<string, Replicator>;
  readonly pendingApplies: number;
  readonly pendingIndex: number;
  readonly snapshotTimer: { readonly intervalMs: number; readonly dueAtMs: number } | undefined;
  readonly nowMs: number;
}

export function nodeStatusOf(
  node: StatusSource,
  prepared: PreparedNode | undefined,
  input: NodeStatusInput,
): NodeStatus {
  const { lifecycle, replicators, pendingApplies, nowMs } = input;
  const core = prepared?.core;
  const conf = core?.confs.last();
  const last = core?.log.lastLogId() ?? { index: 0, term: 0 };
  const role = core?.role;
  return {
    groupId: node.groupId,
    peerId: node.peerId.toString(),
    state: stateOf(core?.role, lifecycle, core?.transfer !== undefined),
    term: core?.term ?? 0,
    leaderId: core?.leaderId ?? "",
    votedFor: core?.votedFor ?? "",
    peers: conf?.conf.peers ?? [],
    oldPeers: conf?.conf.oldPeers ?? [],
    learners: conf?.conf.learners ?? [],
    confIndex: conf?.id.index ?? 0,
    firstIndex: core?.log.firstIndex() ?? 1,
    lastIndex: last.index,
    lastLogTerm: last.term,
    diskIndex: core?.persistedIndex ?? 0,
    committedIndex: core?.commitIndex ?? 0,
    appliedIndex: prepared?.fsmCaller.lastAppliedIndex ?? 0,
    readonly: core?.isReadOnly() ?? false,
    pendingApplies,
    electionTimeoutMs: prepared?.electionTimeoutMs ?? 0,
    lastSnapshotIndex: prepared?.logManager.lastSnapshot.index ?? 0,
    lastSnapshotTerm: prepared?.logManager.lastSnapshot.term ?? 0,
    snapshotStatus: prepared?.snapshotExecutor?.status.state ?? "IDLE",
    snapshotDownloading: downloadingOf(prepared),
    replicators: [...(core?.progress ?? new Map())].map(([peerId, progress]) => {
      const replicator = replicators.get(peerId);
      return {
        peerId,
        nextIndex: progress.nextIndex,
        matchIndex: progress.matchIndex,
        state: progress.state,
        inflightAppends: progress.inflight,
        inflightRpcs: replicator?.inflight ?? 0,
        consecutiveFailures: replicator?.consecutiveFailures ?? 0,
        lag: Math.max(0, last.index - progress.matchIndex),
        lastRpcSendAgeMs: ageOf(replicator?.lastSendAtMs, nowMs),
        lastHeartbeatSendAgeMs: ageOf(replicator?.lastHeartbeatSendAtMs, nowMs),
        lastResponseAgeMs: ageOf(replicator?.lastResponseAtMs, nowMs),
        heartbeatCount: replicator?.heartbeatCount ?? 0,
        appendEntriesCount: replicator?.appendEntriesCount ?? 0,
        installSnapshotCount: replicator?.installSnapshotCount ?? 0,
      };
    }),
    pendingIndex: input.pendingIndex,
    heartbeatIntervalMs: core?.config.heartbeatIntervalMs ?? 0,
    changingConf: core?.change !== undefined,
    confStage: confStageOf(core?.change?.stage),
    newPeers: core?.change?.target.peers ?? [],
    lastMsgToNowMs: role === "follower" ? ageOf(core?.lastLeaderContactMs, nowMs) : undefined,
    stateMachine: prepared?.fsmCaller.describeActivity() ?? "Idle",
    quiet: core?.quiet ?? false,
    timers: timersOf(core, lifecycle === "running", input.snapshotTimer, nowMs),
  };
}

function ageOf(atMs: number | undefined, nowMs: number): number | undefined {
  return atMs === undefined || !Number.isFinite(atMs) ? undefined : Math.max(0, Math.round(nowMs - atMs));
}

function confStageOf(stage: "catchingUp" | "joint" | "stable" | undefined): ConfStage {
  switch (stage) {
    case undefined:
      return "STAGE_NONE";
    case "catchingUp":
      return "STAGE_CATCHING_UP";
    case "joint":
      return "STAGE_JOINT";
    case "stable":
      return "STAGE_STABLE";
  }
}

function timerOf(timeoutMs: number, dueAtMs: number | undefined, nowMs: number): TimerStatus {
  return dueAtMs === undefined || !Number.isFinite(dueAtMs)
    ? { timeoutMs, running: false }
    : { timeoutMs, running: true, dueInMs: Math.max(0, Math.round(dueAtMs - nowMs)) };
}

/**
 * braft runs one of election (follower), vote (candidate) or stepdown (leader) at a time; the
 * core keeps the matching deadline. A pre-candidate still runs braft's election timer.
 */
function timersOf(
  core: PreparedNode["core"] | undefined,
  running: boolean,
  snapshotTimer: NodeStatusInput["snapshotTimer"],
  nowMs: number,
): NodeStatus["timers"] {
  const timeoutMs = core?.config.electionTimeoutMs ?? 0;
  const role = running ? core?.role : undefined;
  const election = role === "follower" || role === "preCandidate" ? core?.electionDeadlineMs : undefined;
  const vote = role === "candidate" ? core?.electionDeadlineMs : undefined;
  // A quiet leader runs no check-quorum (docs/quiescence.md).
  const stepdown = role === "leader" && core?.quiet !== true ? core?.stepDownDeadlineMs : undefined;
  return {
    election: timerOf(timeoutMs, election, nowMs),
    vote: timerOf(timeoutMs, vote, nowMs),
    stepdown: timerOf(timeoutMs, stepdown, nowMs),
    snapshot: timerOf(snapshotTimer?.intervalMs ?? 0, running ? snapshotTimer?.dueAtMs : undefined, nowMs),
  };
}

function downloadingOf(prepared: PreparedNode | undefined): NodeStatus["snapshotDownloading"] {
  const meta = prepared?.snapshotExecutor?.status.downloading;
  return meta === undefined
    ? undefined
    : { lastIncludedIndex: meta.lastIncludedIndex, lastIncludedTerm: meta.lastIncludedTerm };
}

function stateOf(role: Role | undefined, lifecycle: string, transferring: boolean): NodeState {
  if (lifecycle === "shutdown") return "SHUTDOWN";
  if (lifecycle === "shutting") return "SHUTTING";
  switch (role) {
    case "leader":
      return transferring ? "TRANSFERRING" : "LEADER";
    case "candidate":
    case "preCandidate":
      return "CANDIDATE";
    case "follower":
      return "FOLLOWER";
    case "error":
      return "ERROR";
    case "shutdown":
      return "SHUTDOWN";
    case undefined:
      return "UNINITIALIZED";
  }
}
