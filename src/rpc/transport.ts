/**
 * How a node reaches its peers and how peers reach it, independent of the wire. RaftServer
 * (baidu_std over TCP), the in-process host and the simulator's network all implement these.
 * Failures reject with a RaftError: EHOSTUNREACH, ERAFTTIMEDOUT, or the remote node's error.
 */
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from "../core/messages.js";
import type { ConfigurationData, PeerKey } from "../core/types.js";

/** braft's RaftService, as one node serves it. */
export interface RaftService {
  /** pre_vote when `request.preVote`, request_vote otherwise. */
  requestVote(request: RequestVoteRequest): Promise<RequestVoteResponse>;
  appendEntries(request: AppendEntriesRequest): Promise<AppendEntriesResponse>;
  timeoutNow(request: TimeoutNowRequest): Promise<TimeoutNowResponse>;
  /** install_snapshot; a node without it answers ENOSYS. */
  installSnapshot?(request: InstallSnapshotRequest): Promise<InstallSnapshotResponse>;
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
}

/** braft's SnapshotMeta: the last entry a snapshot covers and the configuration at that entry. */
export interface SnapshotMetaData {
  readonly lastIncludedIndex: number;
  readonly lastIncludedTerm: number;
  readonly conf: ConfigurationData;
}

/** InstallSnapshotRequest (raft.proto); `uri` is `remote://ip:port/reader_id` for FileService. */
export interface InstallSnapshotRequest {
  readonly groupId: string;
  readonly serverId: PeerKey;
  readonly peerId: PeerKey;
  readonly term: number;
  readonly meta: SnapshotMetaData;
  readonly uri: string;
}

/** InstallSnapshotResponse (raft.proto). */
export interface InstallSnapshotResponse {
  readonly term: number;
  readonly success: boolean;
}
