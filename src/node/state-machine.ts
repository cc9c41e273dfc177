/** The user's state machine (braft's StateMachine) and the types its callbacks receive. */
import type { RaftError } from "../core/errors.js";
import type { Iterator } from "./iterator.js";
import type { Configuration, PeerId } from "./peer-id.js";
import type { SnapshotReader, SnapshotWriter } from "../storage/snapshot-storage.js";
import type { Closure, Status } from "./closure.js";

/** What onStartFollowing / onStopFollowing receive (braft's LeaderChangeContext). */
export interface LeaderChangeContext {
  readonly leaderId: PeerId;
  readonly term: number;
  readonly status: Status;
}

/**
 * The replicated state machine. Callbacks are called one at a time, in log order, never
 * concurrently (braft's FSMCaller guarantee); a callback may return a Promise and the next one
 * waits for it.
 */
export interface StateMachine {
  /** Applies committed entries, in order. See {@link Iterator}. */
  onApply(iter: Iterator): void | Promise<void>;
  /**
   * Saves the state as of the last applied entry: write files under `writer.path`, register each
   * with `writer.addFile(name)`, then run `done` (possibly later, asynchronously; applies go on
   * meanwhile, so copy what you need before returning). braft's on_snapshot_save.
   */
  onSnapshotSave?(writer: SnapshotWriter, done: Closure): void | Promise<void>;
  /** Replaces the whole state with the snapshot's (at start, or when the leader sends one). */
  onSnapshotLoad?(reader: SnapshotReader): void | Promise<void>;
  /** The node is shutting down; the last callback. */
  onShutdown?(): void | Promise<void>;
  /** This node became leader of `term` and its state machine has applied every earlier entry. */
  onLeaderStart?(term: number): void | Promise<void>;
  /** This node stopped being leader (only after a matching onLeaderStart). */
  onLeaderStop?(status: Status): void | Promise<void>;
  /** A critical error stopped the node (braft's on_error); the node is now in the ERROR state. */
  onError?(error: RaftError): void | Promise<void>;
  /** A (non-joint) configuration entry was committed and applied. */
  onConfigurationCommitted?(conf: Configuration, index: number): void | Promise<void>;
  /** This follower found a leader. */
  onStartFollowing?(ctx: LeaderChangeContext): void | Promise<void>;
  /** This follower lost its leader. */
  onStopFollowing?(ctx: LeaderChangeContext): void | Promise<void>;
}
