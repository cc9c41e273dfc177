/**
 * The core's view of the log: a stable part read through {@link LogReader} (what storage holds
 * durably) and an unstable suffix the core has appended but the shell has not yet persisted.
 * Invariant: unstableOffset <= stable.lastIndex() + 1 while the unstable suffix is non-empty.
 */
import { invariant } from "./errors.js";
import type { LogEntry, LogId } from "./types.js";

/** Synchronous reads of the durable log; the shell's LogManager implements it. */
export interface LogReader {
  /** First index still held (after a prefix truncation); lastIndex()+1 when empty. */
  firstIndex(): number;
  /** Last durable index, 0 when the log has never held an entry. */
  lastIndex(): number;
  /**
   * Term at `index`; 0 for index 0; undefined outside [firstIndex-1, lastIndex], and at
   * firstIndex-1 when storage no longer knows it (after a restart, a log trimmed with a margin).
   */
  term(index: number): number | undefined;
  entry(index: number): LogEntry | undefined;
}

export class RaftLog {
  private unstable: LogEntry[] = [];
  private unstableOffset: number;
  /** First unstable index not yet handed to the shell for persistence. */
  private persistFrom: number;

  constructor(private readonly stable: LogReader) {
    this.unstableOffset = stable.lastIndex() + 1;
    this.persistFrom = this.unstableOffset;
  }

  firstIndex(): number {
    return this.stable.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.length > 0
      ? this.unstableOffset + this.unstable.length - 1
      : this.stable.lastIndex();
  }

  lastLogId(): LogId {
    const index = this.lastIndex();
    return { index, term: this.term(index) ?? 0 };
  }

  term(index: number): number | undefined {
    if (index === 0) return 0;
    if (index > this.lastIndex()) return undefined;
    if (this.unstable.length > 0 && index >= this.unstableOffset) {
      return (this.unstable[index - this.unstableOffset] as LogEntry).term;
    }
    return this.stable.term(index);
  }

  entry(index: number): LogEntry | undefined {
    if (index > this.lastIndex() || index < 1) return undefined;
    if (this.unstable.length > 0 && index >= this.unstableOffset)
      return this.unstable[index - this.unstableOffset];
    return this.stable.entry(index);
  }

  /** Whether the log holds an entry at `index` with `term` (index 0 always matches). */
  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /**
   * Entries [from, ...] up to `maxCount` entries and about `maxBytes` of data (at least one entry
   * when any exists). Returns undefined when `from` was compacted away.
   */
  slice(from: number, maxCount: number, maxBytes: number): LogEntry[] | undefined {
    const last = this.lastIndex();
    const result: LogEntry[] = [];
    let bytes = 0;
    for (let index = from; index <= last && result.length < maxCount; index++) {
      const entry = this.entry(index);
      if (entry === undefined) return index === from ? undefined : result;
      bytes += entry.data.length;
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Appends at the end of the log (leader proposals). */
  append(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as LogEntry).index;
    invariant(first === this.lastIndex() + 1, () => `append at ${first} after last ${this.lastIndex()}`);
    this.appendAt(entries);
  }

  /**
   * Places `entries` at their indexes, truncating whatever conflicts (follower replication).
   * The caller has already skipped the entries that match; `entries[0]` starts the new suffix.
   */
  overwrite(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as LogEntry).index;
    invariant(
      first >= 1 && first <= this.lastIndex() + 1,
      () => `overwrite at ${first} beyond last ${this.lastIndex()}`,
    );
    this.appendAt(entries);
  }

  private appendAt(entries: readonly LogEntry[]): void {
    const first = (entries[0] as LogEntry).index;
    if (this.unstable.length > 0 && first >= this.unstableOffset) {
      this.unstable.length = first - this.unstableOffset;
    } else {
      this.unstable = [];
      this.unstableOffset = first;
    }
    for (const entry of entries) this.unstable.push(entry);
    this.persistFrom = Math.min(this.persistFrom, first);
  }

  /** The first index where `entries` disagree with the log (or run past its end); undefined if none. */
  findConflict(entries: readonly LogEntry[]): number | undefined {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return undefined;
  }

  /** Unstable entries not yet handed out for persistence; marks them handed out. */
  takeEntriesToPersist(): LogEntry[] {
    const start = Math.max(this.persistFrom, this.unstableOffset) - this.unstableOffset;
    const taken = this.unstable.slice(start);
    this.persistFrom = this.unstableOffset + this.unstable.length;
    return taken;
  }

  /** Whether some unstable entries wait to be handed out. */
  hasEntriesToPersist(): boolean {
    return this.persistFrom < this.unstableOffset + this.unstable.length;
  }

  /**
   * The shell made the log durable through (index, term). Entries up to there leave the unstable
   * suffix, unless they were overwritten meanwhile (the term no longer matches).
   */
  stableTo(index: number, term: number): boolean {
    if (this.unstable.length === 0 || index < this.unstableOffset) return false;
    if (this.term(index) !== term) return false;
    const dropped = index - this.unstableOffset + 1;
    this.unstable.splice(0, dropped);
    this.unstableOffset = index + 1;
    this.persistFrom = Math.max(this.persistFrom, this.unstableOffset);
    return true;
  }

  /** The log now starts after a snapshot covering `index`; the durable log was reset to match. */
  resetAfterSnapshot(index: number): void {
    this.unstable = [];
    this.unstableOffset = index + 1;
    this.persistFrom = index + 1;
  }

  /** Whether a candidate's last log id is at least as up to date as ours (Raft §5.4.1). */
  isUpToDate(lastLogIndex: number, lastLogTerm: number): boolean {
    const mine = this.lastLogId();
    return lastLogTerm > mine.term || (lastLogTerm === mine.term && lastLogIndex >= mine.index);
  }
}
