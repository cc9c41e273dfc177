/**
 * The node's ports: how a node reaches its peers and how peers reach it, independent of the
 * wire. The node defines them and the layers above implement them: RaftServer (baidu_std over
 * TCP, src/rpc), the in-process host and the simulator's network (src/testing). What a node needs
 * of its host: RaftHost, RaftClient, SnapshotTransfer, SnapshotThrottle; what it offers: RaftService
 * and NodeAdmin. Failures reject with a RaftError: EHOSTUNREACH, ERAFTTIMEDOUT, or the remote
 * node's error.
 */
import type {
  AppendEntriesRequest,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  QuiesceRequest,
  QuiesceResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  AppendEntriesResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { SnapshotMeta, SnapshotReader, SnapshotWriter } from "../storage/snapshot-storage.js";
import type { NodeStatus } from "./node-status.js";
import type { Logger } from "../env/logger.js";
import type { RaftMetrics } from "../env/metrics.js";
import type { ProcessLiveness } from "./process-liveness.js";

/**
 * What a server's operator surfaces (CliService, /raft_stat, /metrics, the dashboard) reach on
 * one node. RaftNode provides it; hosts without operators (the simulator) leave it out.
 */
export interface NodeAdmin {
  readonly groupId: string;
  /** `ip:port:idx` of the node. */
  readonly peerId: string;
  /** CliService refuses this node (NodeOptions.disableCli). */
  readonly cliDisabled: boolean;
  getStatus(): NodeStatus;
  /** The leader this node knows, `ip:port:idx`; undefined when none. */
  leaderId(): string | undefined;
  addPeer(peer: string): Promise<void>;
  removePeer(peer: string): Promise<void>;
  /** The whole new configuration; learners are given as `ip:port:idx/learner` (Configuration.parse). */
  changePeers(newPeers: readonly string[]): Promise<void>;
  /** UNSAFE, see RaftNode.resetPeers. Learners as in changePeers. */
  resetPeers(newPeers: readonly string[]): Promise<void>;
  snapshot(): Promise<void>;
  /** `0.0.0.0:0:0` (ANY_PEER) lets the leader pick the most up-to-date follower. */
  transferLeadershipTo(peer: string): Promise<void>;
  addLearners(learners: readonly string[]): Promise<void>;
  removeLearners(learners: readonly string[]): Promise<void>;
}

/** braft's RaftService, as one node serves it. */
export interface RaftService {
  /** pre_vote when `request.preVote`, request_vote otherwise. */
  requestVote(request: RequestVoteRequest): Promise<RequestVoteResponse>;
  appendEntries(request: AppendEntriesRequest): Promise<AppendEntriesResponse>;
  timeoutNow(request: TimeoutNowRequest): Promise<TimeoutNowResponse>;
  /** tsraft's read_index (beyond braft); a node without it answers ENOSYS. */
  readIndex?(request: ReadIndexRequest): Promise<ReadIndexResponse>;
  /** install_snapshot; a node without it answers ENOSYS. */
  installSnapshot?(request: InstallSnapshotRequest): Promise<InstallSnapshotResponse>;
  /** tsraft's quiesce (LivenessService, docs/quiescence.md); a node without it answers ENOSYS. */
  quiesce?(request: QuiesceRequest): Promise<QuiesceResponse>;
  /** The node's operator handle; without it, CliService and the status pages skip the node. */
  readonly admin?: NodeAdmin | undefined;
}

/** Calls RaftService on a peer; `to` is the peer's `ip:port:idx`. */
export interface RaftClient {
  requestVote(to: PeerKey, request: RequestVoteRequest, timeoutMs: number): Promise<RequestVoteResponse>;
  appendEntries(
    to: PeerKey,
    request: AppendEntriesRequest,
    timeoutMs: number,
  ): Promise<AppendEntriesResponse>;
  timeoutNow(to: PeerKey, request: TimeoutNowRequest, timeoutMs: number): Promise<TimeoutNowResponse>;
  /** tsraft's read_index: asks the leader `to` for a confirmed read index. */
  readIndex?(to: PeerKey, request: ReadIndexRequest, timeoutMs: number): Promise<ReadIndexResponse>;
  /** install_snapshot; braft sends it without a timeout, which `timeoutMs` <= 0 means here. */
  installSnapshot?(
    to: PeerKey,
    request: InstallSnapshotRequest,
    timeoutMs: number,
  ): Promise<InstallSnapshotResponse>;
}

/**
 * What a node needs from the server that carries its RPCs (NodeOptions.server).
 * A request is routed to the node registered under its (groupId, peerId).
 */
export interface RaftHost {
  /** Routes requests for (groupId, peerId) to `service`; EEXIST if taken. */
  registerNode(groupId: string, peerId: PeerKey, service: RaftService): void;
  unregisterNode(groupId: string, peerId: PeerKey): void;
  /** The client this node uses to reach its peers. */
  readonly client: RaftClient;
  /** Snapshot copy between peers (braft's FileService); without it snapshots are never sent. */
  readonly snapshotTransfer?: SnapshotTransfer | undefined;
  /**
   * The process-pair liveness of this host (tsraft's LivenessService), shared by its nodes; its
   * groups quiesce only with it. Absent: no group of this host quiesces.
   */
  readonly liveness?: ProcessLiveness | undefined;
  /** Where the host's nodes report metrics (RaftServer: its /metrics registry); none when absent. */
  readonly metrics?: RaftMetrics | undefined;
  /** The logger of the host's nodes that have no NodeOptions.logger; the process-wide one when absent. */
  readonly logger?: Logger | undefined;
  /**
   * The largest entry data (bytes) one AppendEntries of `groupId` can carry to a peer (the frame
   * limit minus framing). apply() refuses larger entries with EINVAL. Absent: no limit (a host
   * without a wire, such as the in-process network).
   */
  maxEntryDataBytes?(groupId: string): number;
}

/** tsraft.LivenessService.heartbeat: one per pair of servers and period (docs/quiescence.md). */
export interface LivenessHeartbeat {
  /** The sender's endpoint (`ip:port`), as its peers name it. */
  readonly from: string;
  /** Drawn when the sender started: a new value means it restarted. */
  readonly incarnation: number;
  /** Quiet groups the sender led that stopped (`groupId \0 leader`): their followers elect now. */
  readonly goneLeaders: readonly string[];
  /** Quiet groups the receiver leads whose follower here woke alone: their leaders wake too. */
  readonly wakeLeaders: readonly string[];
}

/** The answer: the receiver's incarnation. */
export interface LivenessAck {
  readonly incarnation: number;
}

/**
 * How a host's ProcessLiveness reaches peer servers (tsraft.LivenessService). A braft server
 * answers ENOSYS (no such service).
 */
export interface LivenessTransport {
  /** The process heartbeat to the server at `endpoint` (`ip:port`). */
  heartbeat(endpoint: string, request: LivenessHeartbeat, timeoutMs: number): Promise<LivenessAck>;
  /** A leader's Quiesce to the follower `to`. */
  quiesce(to: PeerKey, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse>;
}

/** Options of one snapshot copy. */
export interface SnapshotCopyOptions {
  /** Aborted when a newer install replaces this one, or the node shuts down. */
  readonly signal: AbortSignal;
  /** Skip files the local snapshot already has with the same name and checksum. */
  readonly filterBeforeCopyRemote: boolean;
  /** The local snapshot to reuse files from, when filtering. */
  readonly localReader?: SnapshotReader | undefined;
  /** Bandwidth limit for the copy. */
  readonly throttle?: SnapshotThrottle | undefined;
  /** The node's raft_max_byte_count_per_rpc: bytes asked for per chunk. */
  readonly maxByteCountPerRpc?: number | undefined;
}

/** Limits snapshot copy bandwidth (braft's SnapshotThrottle). */
export interface SnapshotThrottle {
  /** Resolves when `bytes` more may be transferred. */
  acquire(bytes: number, signal?: AbortSignal): Promise<void>;
}

/** How snapshots move between peers: the leader exposes a reader, the follower copies it. */
export interface SnapshotTransfer {
  /** Leader: makes `reader` copyable; returns its `remote://ip:port/reader_id` URI. */
  registerReader(reader: SnapshotReader): { uri: string; release(): void };
  /** Follower: copies the snapshot at `uri` into `writer` (files, file meta and meta); resolves with the meta. */
  copySnapshot(uri: string, writer: SnapshotWriter, options: SnapshotCopyOptions): Promise<SnapshotMeta>;
}
