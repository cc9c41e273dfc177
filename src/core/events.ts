/** What the core hands back to the shell after each batch of inputs (etcd's Ready). */
import type { InstallSnapshotRequest, OutboundRequest, QuiesceRequest, Reply } from "./messages.js";
import type { RaftError } from "./errors.js";
import type { HardState, LogEntry, PeerKey, Role } from "./types.js";

/** A linearizable read waiting for confirmation; `index` is the commit index when it arrived. */
export interface PendingRead {
  readonly id: number;
  readonly index: number;
}

/** A request to send, with what the core needs to match its answer. */
export interface Send {
  readonly seq: number;
  readonly message: OutboundRequest;
  readonly heartbeat: boolean;
  /** Core time when the request was made; an answer proves the peer was alive after it. */
  readonly createdAtMs: number;
}

/** Changes the state machine hears about, in order, through the FSMCaller. */
export type CoreEvent =
  | { readonly type: "roleChanged"; readonly role: Role; readonly term: number }
  /** An election round started: a pre-vote (for `term` + 1), or a vote in the new `term`. */
  | { readonly type: "electionStarted"; readonly preVote: boolean; readonly term: number }
  /** This node became leader; `confIndex` is the configuration entry it appended on taking office. */
  | { readonly type: "leaderStart"; readonly term: number; readonly confIndex: number }
  | { readonly type: "leaderStop"; readonly term: number; readonly reason: string }
  | { readonly type: "startFollowing"; readonly leaderId: PeerKey; readonly term: number }
  | {
      readonly type: "stopFollowing";
      readonly leaderId: PeerKey;
      readonly term: number;
      readonly reason: string;
    }
  /**
   * The leader sent a snapshot: download and load it, then call `finishInstall(replyId, ...)`.
   * The reply to the leader waits for that.
   */
  | { readonly type: "installSnapshot"; readonly replyId: number; readonly request: InstallSnapshotRequest }
  /** Leadership was confirmed for these reads: each may be served once `index` is applied. */
  | { readonly type: "readIndexReady"; readonly reads: readonly PendingRead[] }
  /** The configuration change started on this leader ended: committed, or failed with `error`. */
  | { readonly type: "changeDone"; readonly error: RaftError | undefined }
  /**
   * A leadership transfer started: the lease ended and the state machine hears onLeaderStop with
   * ETRANSFERLEADERSHIP (braft), though this node leads until the target wins or time runs out.
   */
  | { readonly type: "transferStarted"; readonly term: number; readonly target: PeerKey }
  /** A transfer timed out: this node leads `term` on, with a new lease (onLeaderStart again). */
  | { readonly type: "leaderResumed"; readonly term: number }
  /** A leadership transfer ended: leadership left this node, or it resumed leading. */
  | { readonly type: "transferEnded"; readonly succeeded: boolean; readonly reason: string }
  /** These reads cannot be confirmed: this node stopped leading. */
  | { readonly type: "readIndexFailed"; readonly ids: readonly number[]; readonly reason: string }
  /**
   * The group went quiet here (quiesce.ts): a leader sends `requests` (tsraft's Quiesce, one per
   * follower) and feeds each answer to `onQuiesceAnswer`; a follower (`requests` empty) waits
   * on the liveness of `leaderId`'s process. No timer of the group is armed until it wakes.
   */
  | {
      readonly type: "quiesced";
      readonly leaderId: PeerKey;
      readonly term: number;
      readonly requests: readonly QuiesceRequest[];
    }
  /** A quiet group woke here: its timers run again. */
  | { readonly type: "woke"; readonly term: number };

export interface Ready {
  /** Persist before releasing `sendsAfterPersist` and `replies`; undefined when unchanged. */
  readonly hardState: HardState | undefined;
  /**
   * Entries to persist, in order. When entries[0].index is not past the durable log, the
   * durable log must first be truncated after entries[0].index - 1.
   */
  readonly entries: readonly LogEntry[];
  /** Requests that may go out at once (a leader's appends do not wait for its own disk). */
  readonly sendsNow: readonly Send[];
  /** Requests that depend on the persisted hard state (vote requests). */
  readonly sendsAfterPersist: readonly Send[];
  /** Replies that vouch for persisted state (votes, append acks): after everything above is durable. */
  readonly replies: readonly Reply[];
  readonly events: readonly CoreEvent[];
  /**
   * The state machine may apply every entry through this index: committed, and durable on this
   * node (a follower may learn a commit point its own disk has not reached yet). Never behind
   * the value of an earlier Ready unless this node's log was truncated meanwhile.
   */
  readonly applyThroughIndex: number;
}
