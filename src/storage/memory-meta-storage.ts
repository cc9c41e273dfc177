/**
 * `memory://` RaftMetaStorage: term and vote in process memory, in a store looked up by name so a
 * node restarted in the same process finds them again.
 */
import { RaftError } from "../core/errors.js";
import type { HardState } from "../core/types.js";
import type { RaftMetaStorage } from "./interfaces.js";

/** The data behind one `memory://name` raft meta. */
export interface MemoryMetaStore {
  state: HardState;
}

const stores = new Map<string, MemoryMetaStore>();

/** The process-wide store named `name`, created on first use (term 0, no vote). */
export function memoryMetaStore(name: string): MemoryMetaStore {
  let store = stores.get(name);
  if (store === undefined) {
    store = { state: { term: 0, votedFor: "" } };
    stores.set(name, store);
  }
  return store;
}

/** Forgets every named memory meta store. */
export function clearMemoryMetaStores(): void {
  stores.clear();
}

/** A RaftMetaStorage over a {@link MemoryMetaStore}; without a store it gets a private one. */
export class MemoryRaftMetaStorage implements RaftMetaStorage {
  private state: "new" | "open" | "closed" = "new";

  constructor(private readonly store: MemoryMetaStore = { state: { term: 0, votedFor: "" } }) {}

  async init(): Promise<void> {
    if (this.state !== "new") throw new RaftError("EINVAL", "memory meta storage was already initialized");
    this.state = "open";
  }

  getTermAndVotedFor(): HardState {
    return this.store.state;
  }

  async setTermAndVotedFor(state: HardState): Promise<void> {
    if (this.state !== "open") throw new RaftError("EINVAL", `memory meta storage is ${this.state}`);
    checkHardState(state);
    this.store.state = { term: state.term, votedFor: state.votedFor };
  }

  async close(): Promise<void> {
    this.state = "closed";
  }
}

/** Rejects states no storage could round-trip (shared with the local implementation). */
export function checkHardState(state: HardState): void {
  if (!Number.isSafeInteger(state.term) || state.term < 0 || typeof state.votedFor !== "string") {
    throw new RaftError("EINVAL", `invalid hard state term=${state.term} votedFor=${String(state.votedFor)}`);
  }
}
