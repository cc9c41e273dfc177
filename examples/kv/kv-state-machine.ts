/**
 * The replicated key-value map behind examples/kv: the StateMachine, its commands, and the window
 * of recent request ids that makes a retried write apply once (docs/guide.md, "Idempotent
 * commands"). Pure of HTTP: the simulator tutorial (test/examples/kv-sim.test.ts) runs it as is.
 */
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";
import { readSnapshotFile, writeSnapshotFile } from "./kv-snapshot.js";

// #region commands
/** One write in the log. `requestId` (optional) makes a retry of the same write apply once. */
export type KvCommand =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly requestId?: string }
  | { readonly op: "delete"; readonly key: string; readonly requestId?: string };

/** What a write did, handed back to the proposer through `apply()`'s result. */
export interface KvWriteResult {
  /** The key's value before the write, or null when it had none. */
  readonly previous: string | null;
  /** True when this request id was applied before: nothing changed, this is the first answer. */
  readonly replayed: boolean;
}

export function encodeCommand(command: KvCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(command));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(new TextDecoder().decode(data)) as KvCommand;
}
// #endregion commands

/**
 * How many request ids the map remembers. A retry must arrive before this many other keyed writes
 * were applied; the bound keeps memory and snapshots finite. Eviction follows log order, so every
 * replica evicts the same ids at the same entry.
 */
export const REQUEST_WINDOW = 10_000;

/** The file a snapshot of the map is written to. */
export const SNAPSHOT_FILE = "kv.jsonl";

export class KvStateMachine implements StateMachine {
  readonly data = new Map<string, string>();
  /** Recent request ids and their first answers, oldest first (a Map keeps insertion order). */
  readonly requests = new Map<string, KvWriteResult>();
  /** The term this node leads, or -1. */
  leaderTerm = -1;
  /** Set when the node entered ERROR: the HTTP layer then answers 500 with it. */
  error: Error | undefined;
  /** Index of the last entry applied (or loaded from a snapshot). */
  appliedIndex = 0;

  // #region on-apply
  /** Entries arrive in log order, once each; every replica computes the same results. */
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      const command = decodeCommand(entry.data);
      const result = this.applyOnce(command);
      this.appliedIndex = entry.index;
      entry.done?.setResult?.(result);
    }
  }

  /** Applies `command` unless its request id was applied already; then answers as the first time. */
  private applyOnce(command: KvCommand): KvWriteResult {
    const id = command.requestId;
    const earlier = id === undefined ? undefined : this.requests.get(id);
    if (earlier !== undefined) return { ...earlier, replayed: true };
    const result: KvWriteResult = { previous: this.data.get(command.key) ?? null, replayed: false };
    if (command.op === "put") this.data.set(command.key, command.value);
    else this.data.delete(command.key);
    if (id !== undefined) this.remember(id, result);
    return result;
  }
  // #endregion on-apply

  private remember(id: string, result: KvWriteResult): void {
    this.requests.set(id, result);
    if (this.requests.size <= REQUEST_WINDOW) return;
    const oldest = this.requests.keys().next().value;
    if (oldest !== undefined) this.requests.delete(oldest);
  }

  // #region snapshot
  /**
   * Copies the state synchronously (the next apply may change the maps as soon as this returns),
   * then writes the copy in the background and reports through `done`. Files go through the
   * writer's and reader's `fileSystem` (the node's snapshot FileSystemAdaptor, if it has one).
   */
  onSnapshotSave(writer: SnapshotWriter, done: Closure): void {
    const records = [
      ...[...this.data].map(([key, value]) => ({ k: key, v: value })),
      ...[...this.requests].map(([id, result]) => ({ r: id, p: result.previous })),
    ];
    writeSnapshotFile(`${writer.path}/${SNAPSHOT_FILE}`, records, writer.fileSystem).then(
      () => {
        writer.addFile(SNAPSHOT_FILE);
        done.run(Status.OK());
      },
      (error: unknown) => done.run(Status.error("EIO", `kv snapshot: ${String(error)}`)),
    );
  }

  /** Replaces the whole state: at start, or when the leader sends a snapshot. */
  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    this.data.clear();
    this.requests.clear();
    for await (const record of readSnapshotFile(`${reader.path}/${SNAPSHOT_FILE}`, reader.fileSystem)) {
      if ("k" in record) this.data.set(record.k, record.v);
      else this.requests.set(record.r, { previous: record.p, replayed: false });
    }
    this.appliedIndex = reader.loadMeta().lastIncludedIndex;
  }
  // #endregion snapshot

  // #region leader-callbacks
  /** Called in log order, after every entry of earlier terms was applied. Keep it short. */
  onLeaderStart(term: number): void {
    this.leaderTerm = term;
  }

  /** Leadership is gone: stop anything that only a leader may do. */
  onLeaderStop(_status: Status): void {
    this.leaderTerm = -1;
  }

  /** The node stopped applying; it answers nothing until an operator restarts it. */
  onError(error: Error): void {
    this.error = error;
  }
  // #endregion leader-callbacks
}
