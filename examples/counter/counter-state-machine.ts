/**
 * braft's counter as a tsraft StateMachine: one signed 64-bit value. Each log entry is a
 * serialized FetchAddRequest (as braft replicates it, so braft and tsraft nodes can share a log);
 * applying it adds `value` and hands the value *before* the add back to the proposer, as braft's
 * fetch_add does. The snapshot is one file, `data`, holding a Snapshot message in braft's
 * ProtoBufFile format.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { join } from "node:path";
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";
import { SnapshotSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { fetchAddValueOf } from "./counter-wire.js";
import { loadProtoBufFile, saveProtoBufFile } from "./protobuf-file.js";

/** The snapshot's only file, as braft's counter names it. */
export const SNAPSHOT_FILE = "data";

/** What the counter reports as it runs (a line each; the server prints them). */
export type CounterLog = (line: string) => void;

export class CounterStateMachine implements StateMachine {
  /** The counter; wraps around like braft's int64_t. */
  value = 0n;
  /** The term this node leads and has caught up in, or -1 (braft's `_leader_term`). */
  leaderTerm = -1;

  constructor(
    private readonly log: CounterLog = () => undefined,
    private readonly logAppliedTask = false,
  ) {}

  isLeader(): boolean {
    return this.leaderTerm > 0;
  }

  onApply(iter: Iterator): void {
    for (const entry of iter) {
      const delta = fetchAddValueOf(entry.data);
      const previous = this.value;
      this.value = BigInt.asIntN(64, previous + delta);
      entry.done?.setResult?.(previous);
      if (this.logAppliedTask) {
        this.log(`Added value=${previous} by detal=${delta} at log_index=${entry.index}`);
      }
    }
  }

  /** Copies the value now; writes the file after returning, as braft's counter does on a bthread. */
  onSnapshotSave(writer: SnapshotWriter, done: Closure): void {
    const message = toBinary(SnapshotSchema, create(SnapshotSchema, { value: this.value }));
    const path = join(writer.path, SNAPSHOT_FILE);
    saveProtoBufFile(path, message, true, writer.fileSystem).then(
      () => {
        writer.addFile(SNAPSHOT_FILE);
        this.log(`Saved snapshot to ${path}`);
        done.run(Status.OK());
      },
      (error: unknown) => done.run(Status.error("EIO", `Fail to save ${path}: ${String(error)}`)),
    );
  }

  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    if (reader.getFileMeta(SNAPSHOT_FILE) === undefined) {
      throw new Error(`Fail to find \`${SNAPSHOT_FILE}' on ${reader.path}`);
    }
    const path = join(reader.path, SNAPSHOT_FILE);
    this.value = fromBinary(SnapshotSchema, await loadProtoBufFile(path, reader.fileSystem)).value;
    this.log(`Loaded snapshot from ${path} value=${this.value}`);
  }

  onLeaderStart(term: number): void {
    this.leaderTerm = term;
    this.log(`Node becomes leader term=${term} value=${this.value}`);
  }

  onLeaderStop(status: Status): void {
    this.leaderTerm = -1;
    this.log(`Node stepped down : ${status.toString()}`);
  }
}
