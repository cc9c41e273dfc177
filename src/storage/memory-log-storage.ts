/**
 * `memory://` LogStorage: the log lives in process memory, in a store looked up by name, so a node
 * restarted in the same process (a test, the simulator) finds its log again. Nothing survives the
 * process. Entries are kept as given: callers must not mutate an entry's data after appending it.
 */
import { RaftError } from "../core/errors.js";
import type { LogEntry } from "../core/types.js";
import type { LogStorage } from "./interfaces.js";

/** The data behind one `memory://name` log. */
export interface MemoryLogStore {
  first: number;
  entries: LogEntry[];
}

const stores = new Map<string, MemoryLogStore>();

/** The process-wide store named `name`, created empty on first use. */
export function memoryLogStore(name: string): MemoryLogStore {
  let store = stores.get(name);
  if (store === undefined) {
    store = { first: 1, entries: [] };
    stores.set(name, store);
  }
  return store;
}

/** Forgets every named memory log (tests call this between cases). */
export function clearMemoryLogStores(): void {
  stores.clear();
}

/** A LogStorage over a {@link MemoryLogStore}; without a store it gets a private one. */
export class MemoryLogStorage implements LogStorage {
  private state: "new" | "open" | "closed" = "new";

  constructor(private readonly store: MemoryLogStore = { first: 1, entries: [] }) {}

  async init(onConfiguration: (entry: LogEntry) => void): Promise<void> {
    if (this.state !== "new") throw new RaftError("EINVAL", "memory log storage was already initialized");
    this.state = "open";
    for (const entry of this.store.entries) if (entry.conf !== undefined) onConfiguration(entry);
  }

  firstLogIndex(): number {
    return this.store.first;
  }

  lastLogIndex(): number {
    return this.store.first + this.store.entries.length - 1;
  }

  getEntry(index: number): LogEntry | undefined {
    return index >= this.store.first ? this.store.entries[index - this.store.first] : undefined;
  }

  getTerm(index: number): number {
    return this.getEntry(index)?.term ?? 0;
  }

  async appendEntries(entries: readonly LogEntry[]): Promise<void> {
    this.checkOpen();
    const last = this.lastLogIndex();
    for (const [i, entry] of entries.entries()) {
      if (entry.index !== last + 1 + i) {
        throw new RaftError("EINVAL", `append of entry ${entry.index} does not follow last index ${last}`);
      }
    }
    this.store.entries.push(...entries);
  }

  async truncatePrefix(firstIndexKept: number): Promise<void> {
    this.checkOpen();
    checkIndex(firstIndexKept, 1);
    if (firstIndexKept <= this.store.first) return;
    if (firstIndexKept > this.lastLogIndex() + 1) return this.reset(firstIndexKept);
    this.store.entries.splice(0, firstIndexKept - this.store.first);
    this.store.first = firstIndexKept;
  }

  async truncateSuffix(lastIndexKept: number): Promise<void> {
    this.checkOpen();
    checkIndex(lastIndexKept, 0);
    const keep = Math.max(0, lastIndexKept - this.store.first + 1);
    if (keep < this.store.entries.length) this.store.entries.length = keep;
  }

  async reset(nextLogIndex: number): Promise<void> {
    this.checkOpen();
    checkIndex(nextLogIndex, 1);
    this.store.entries = [];
    this.store.first = nextLogIndex;
  }

  async close(): Promise<void> {
    this.state = "closed";
  }

  private checkOpen(): void {
    if (this.state !== "open") throw new RaftError("EINVAL", `memory log storage is ${this.state}`);
  }
}

function checkIndex(index: number, min: number): void {
  if (!Number.isSafeInteger(index) || index < min)
    throw new RaftError("EINVAL", `invalid log index ${index}`);
}
