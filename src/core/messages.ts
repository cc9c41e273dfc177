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
  /**
   * braft's disrupted_leader: the leader (and its term) this candidate knows has stepped down
   * for it. A follower of exactly that leader in that term stops honouring its lease.
   */
  readonly disruptedLeader?: TermLeader | undefined;
}

/** braft's TermLeader: a leader and the term it led. */
export interface TermLeader {
  readonly peerId: PeerKey;
  readonly term: number;
}

export interface RequestVoteResponse {
  readonly term: number;
  readonly granted: boolean;
  /** The voter refused only because it still follows a live leader (its lease). */
  readonly rejectedByLease?: boolean | undefined;
  /** The voter was the leader of `previousTerm` and stepped down (pre-vote: would step down). */
  readonly disrupted?: boolean | undefined;
  /** The voter's term before it handled the request. */
  readonly previousTerm?: number | undefined;
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
  /**
   * braft's old_leader_stepped_down: the sender gave up its lease for good (it is stopping, or
   * leases are off), so the target may name it as the disrupted leader at once.
   */
  readonly oldLeaderSteppedDown?: boolean | undefined;
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

/** tsraft.LivenessService.quiesce: the leader's last message before its group goes quiet. */
export interface QuiesceRequest {
  readonly groupId: string;
  /** The leader. */
  readonly serverId: PeerKey;
  /** The follower addressed. */
  readonly peerId: PeerKey;
  readonly term: number;
  /** The leader's last entry: the follower goes quiet only when its own log ends there too. */
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** The leader's commit index (its whole log): the follower commits through it. */
  readonly committedIndex: number;
}

export interface QuiesceResponse {
  readonly term: number;
  /** The follower went quiet (false: it keeps its election timer; the leader wakes). */
  readonly success: boolean;
}

/** A request the core wants sent. The shell performs the RPC and feeds the answer back. */
export type OutboundRequest =
  | { readonly kind: "vote"; readonly to: PeerKey; readonly request: RequestVoteRequest }
  | { readonly kind: "append"; readonly to: PeerKey; readonly request: AppendEntriesRequest }
  | { readonly kind: "timeoutNow"; readonly to: PeerKey; readonly request: TimeoutNowRequest }
  | { readonly kind: "installSnapshot"; readonly to: PeerKey; readonly request: InstallSnapshotHeader };

/** A peer's answer to a request this core sent, tagged with the kind of that request. */
export type PeerResponse =
  | { readonly kind: "vote"; readonly response: RequestVoteResponse }
  | { readonly kind: "append"; readonly response: AppendEntriesResponse }
  | { readonly kind: "timeoutNow"; readonly response: TimeoutNowResponse }
  | { readonly kind: "installSnapshot"; readonly response: InstallSnapshotResult };

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
