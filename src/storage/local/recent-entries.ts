/**
 * The most recently appended entries, kept in memory so that replication to followers that are
 * slightly behind (the common case) reads without touching the disk. Always a contiguous run of
 * the log's tail, bounded in count and bytes.
 */
import type { LogEntry } from "../../core/types.js";

export class RecentEntries {
  private entries: (LogEntry | undefined)[] = [];
  /** Position of the oldest live entry in `entries` (evicting by index avoids O(n) shifts). */
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly entriesMax: number,
    private readonly bytesMax: number,
  ) {}

  get(index: number): LogEntry | undefined {
    const first = this.entries[this.head];
    if (first === undefined) return undefined;
    return this.entries[this.head + index - first.index];
  }

  /** Adds the entry that follows the newest one; a gap empties the cache first. */
  push(entry: LogEntry): void {
    const newest = this.entries[this.entries.length - 1];
    if (newest !== undefined && newest.index + 1 !== entry.index) this.clear();
    if (this.entriesMax <= 0) return;
    this.entries.push(entry);
    this.bytes += entry.data.length;
    while (this.size() > this.entriesMax || (this.bytes > this.bytesMax && this.size() > 1))
      this.evictOldest();
  }

  /** Forgets entries after `lastKept`. */
  dropAfter(lastKept: number): void {
    while (this.size() > 0 && (this.entries[this.entries.length - 1]?.index ?? 0) > lastKept) {
      this.bytes -= this.entries.pop()?.data.length ?? 0;
    }
  }

  /** Forgets entries before `firstKept`. */
  dropBefore(firstKept: number): void {
    while (this.size() > 0 && (this.entries[this.head]?.index ?? firstKept) < firstKept) this.evictOldest();
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  private size(): number {
    return this.entries.length - this.head;
  }

  private evictOldest(): void {
    const entry = this.entries[this.head];
    if (entry === undefined) return;
    this.bytes -= entry.data.length;
    this.entries[this.head] = undefined; // release the entry for GC
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (this.size() === 0) this.clear();
  }
}
