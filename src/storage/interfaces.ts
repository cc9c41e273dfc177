/**
 * The three kinds of persistent storage braft names (log, raft meta, snapshot), as interfaces.
 * Reads are synchronous (served from memory or a pread), writes are asynchronous and resolve
 * only once durable (when raft_sync is on).
 */
import type { HardState, LogEntry } from "../core/types.js";

/** braft's LogStorage: the write-ahead log of one node. */
export interface LogStorage {
  /**
   * Opens the log (creating it if absent) and reports every configuration entry found, oldest
   * first, so the node can rebuild its ConfigurationManager.
   */
  init(onConfiguration: (entry: LogEntry) => void): Promise<void>;
  /** First index held; lastLogIndex()+1 when empty (1 for a new log). */
  firstLogIndex(): number;
  /** Last index held; firstLogIndex()-1 when empty (0 for a new log). */
  lastLogIndex(): number;
  /** The entry at `index`, or undefined when outside [first, last]. */
  getEntry(index: number): LogEntry | undefined;
  /** The term at `index`, or 0 when outside [first, last] (braft's convention). */
  getTerm(index: number): number;
  /**
   * Appends entries whose indexes continue the log (entries[0].index === lastLogIndex()+1).
   * Resolves when they are durable; the getters see them from then on.
   */
  appendEntries(entries: readonly LogEntry[]): Promise<void>;
  /** Deletes entries before `firstIndexKept`. */
  truncatePrefix(firstIndexKept: number): Promise<void>;
  /** Deletes entries after `lastIndexKept`. */
  truncateSuffix(lastIndexKept: number): Promise<void>;
  /** Drops every entry; the next entry appended will have index `nextLogIndex`. */
  reset(nextLogIndex: number): Promise<void>;
  close(): Promise<void>;
}

/** braft's RaftMetaStorage: the current term and vote. */
export interface RaftMetaStorage {
  init(): Promise<void>;
  /** The last state set; term 0 and no vote for a new node. */
  getTermAndVotedFor(): HardState;
  /** Resolves once durable. */
  setTermAndVotedFor(state: HardState): Promise<void>;
  close(): Promise<void>;
}
