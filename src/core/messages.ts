/**
 * The RPCs between peers, as plain data with braft's field names (raft.proto, camelCased).
 * The rpc layer maps these to protobuf; the core and the in-process transports use them as is.
 */
import type { ConfigurationData, LogEntry, PeerKey } from "./types.js";

/** RequestVoteRequest; `preVote` selects braft's pre_vote method instead of request_vote. */
export interface RequestVoteRequest {
  readonly groupId: string;
  /** The candidate. */
  readonly serverId: PeerKey;
  /** The voter addressed. */
  readonly peerId: PeerKey;
  readonly term: number;
  readonly lastLogTerm: number;
  readonly lastLogIndex: number;
  readonly preVote: boolean;
  /** Set by an election that TimeoutNow started: the voter ignores its leader lease. */
  readonly disruptLeader?: boolean | undefined;
}

export interface RequestVoteResponse {
  readonly term: number;
  readonly granted: boolean;
  /** The voter still hears from a live leader (beyond braft's wire fields; false when absent). */
  readonly rejectedByLease?: boolean | undefined;
}

export interface AppendEntriesRequest {
  readonly groupId: string;
  readonly serverId: PeerKey;
  readonly peerId: PeerKey;
  readonly term: number;
  readonly prevLogTerm: number;
  readonly prevLogIndex: number;
  readonly entries: readonly LogEntry[];
  readonly committedIndex: number;
}

export interface AppendEntriesResponse {
  readonly term: number;
  readonly success: boolean;
  /** The responder's last log index; lets the leader jump back when the follower is shorter. */
  readonly lastLogIndex: number;
  readonly readonly?: boolean | undefined;
}

export interface TimeoutNowRequest {
  readonly groupId: string;
  readonly serverId: PeerKey;
  readonly peerId: PeerKey;
  readonly term: number;
}

export interface TimeoutNowResponse {
  readonly term: number;
  readonly success: boolean;
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

/**
 * What the core asks for when a follower needs a snapshot: the shell picks the snapshot, fills
 * in its meta and copy URI, and reports the answer with the index the snapshot covered.
 */
export interface InstallSnapshotHeader {
  readonly groupId: string;
  readonly serverId: PeerKey;
  readonly peerId: PeerKey;
  readonly term: number;
}

/** The answer to an install, as the shell reports it back to the core. */
export interface InstallSnapshotResult extends InstallSnapshotResponse {
  /** The last index the snapshot sent covered. */
  readonly lastIncludedIndex: number;
}

/** tsraft's ReadIndex RPC (beyond braft): a follower or learner asks the leader for a read index. */
export interface ReadIndexRequest {
  readonly groupId: string;
  /** The node asking. */
  readonly serverId: PeerKey;
  /** The leader addressed. */
  readonly peerId: PeerKey;
}

export interface ReadIndexResponse {
  /** Confirmed read index; meaningful only when `success`. */
  readonly index: number;
  readonly success: boolean;
}

/** A request the core wants sent. The shell performs the RPC and feeds the answer back. */
export type OutboundRequest =
  | { readonly kind: "vote"; readonly to: PeerKey; readonly request: RequestVoteRequest }
  | { readonly kind: "append"; readonly to: PeerKey; readonly request: AppendEntriesRequest }
  | { readonly kind: "timeoutNow"; readonly to: PeerKey; readonly request: TimeoutNowRequest }
  | { readonly kind: "installSnapshot"; readonly to: PeerKey; readonly request: InstallSnapshotHeader };

/** A request received from a peer, tagged with an id the core echoes in its reply. */
export type InboundRequest =
  | { readonly kind: "vote"; readonly request: RequestVoteRequest }
  | { readonly kind: "append"; readonly request: AppendEntriesRequest }
  | { readonly kind: "timeoutNow"; readonly request: TimeoutNowRequest }
  | { readonly kind: "installSnapshot"; readonly request: InstallSnapshotRequest };

/** A reply to an inbound request. */
export type Reply =
  | { readonly kind: "vote"; readonly replyId: number; readonly response: RequestVoteResponse }
  | { readonly kind: "append"; readonly replyId: number; readonly response: AppendEntriesResponse }
  | { readonly kind: "timeoutNow"; readonly replyId: number; readonly response: TimeoutNowResponse }
  | { readonly kind: "installSnapshot"; readonly replyId: number; readonly response: InstallSnapshotResponse }
  | {
      readonly kind: "error";
      readonly replyId: number;
      readonly code: "EINVAL" | "EPERM";
      readonly text: string;
    };
