/**
 * The README's state machine, compiled and tested (test/examples/minimal.test.ts): a replicated
 * string map with snapshots and leader callbacks. Copy it as a starting point.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";

/** One command in the log: set `key` to `value`. */
export interface SetCommand {
  readonly key: string;
  readonly value: string;
}

export function encodeSet(command: SetCommand): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(command));
}

export class KvStore implements StateMachine {
  readonly data = new Map<string, string>();
  /** The term this node leads, or -1: reads on a non-leader would be stale. */
  leaderTerm = -1;

  /** Entries arrive in log order, once each, one batch at a time. */
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      const { key, value } = JSON.parse(new TextDecoder().decode(entry.data)) as SetCommand;
      const previous = this.data.get(key);
      this.data.set(key, value);
      entry.done?.setResult?.(previous); // apply() on the leader resolves with { result: previous }
    }
  }

  /** Copy the state now (applies go on meanwhile), write it, then tell raft through `done`. */
  onSnapshotSave(writer: SnapshotWriter, done: Closure): void {
    const state = JSON.stringify([...this.data]);
    writeFile(join(writer.path, "data.json"), state).then(
      () => {
        writer.addFile("data.json");
        done.run(Status.OK());
      },
      (error: unknown) => done.run(Status.error("EIO", String(error))),
    );
  }

  /** Replaces the whole state: at start, or when the leader sends a snapshot. */
  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    const state = JSON.parse(await readFile(join(reader.path, "data.json"), "utf8")) as [string, string][];
    this.data.clear();
    for (const [key, value] of state) this.data.set(key, value);
  }

  onLeaderStart(term: number): void {
    this.leaderTerm = term;
  }

  onLeaderStop(_status: Status): void {
    this.leaderTerm = -1;
  }
}
