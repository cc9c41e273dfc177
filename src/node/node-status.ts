/** NodeStatus: the raft_stat fields of one node, as plain data. */
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
}

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
}

interface StatusSource {
  readonly groupId: string;
  readonly peerId: { toString(): string };
}

export function nodeStatusOf(
  node: StatusSource,
  prepared: PreparedNode | undefined,
  lifecycle: string,
  replicators: ReadonlyMap<string, Replicator>,
  pendingApplies: number,
): NodeStatus {
  const core = prepared?.core;
  const conf = core?.confs.last();
  const last = core?.log.lastLogId() ?? { index: 0, term: 0 };
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
    replicators: [...(core?.progress ?? new Map())].map(([peerId, progress]) => ({
      peerId,
      nextIndex: progress.nextIndex,
      matchIndex: progress.matchIndex,
      state: progress.state,
      inflightAppends: progress.inflight,
      inflightRpcs: replicators.get(peerId)?.inflight ?? 0,
      consecutiveFailures: replicators.get(peerId)?.consecutiveFailures ?? 0,
    })),
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
