/**
 * The state machine of every simulated node: a map of registers (the model the linearizability
 * checker knows), written by entries `<key>=<value>` (optionally followed by `|` and padding, for
 * large entries). It reports every applied DATA entry to the SafetyChecker, and its snapshot
 * holds both the registers and the list of entries it applied, so loading one tells the checker
 * exactly what state the node resumed from. Entries of another form change no register.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { FileOpenFlags, type FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { checkedFileSystem, readWholeFile, withFile } from "../storage/fs-adaptor-checked.js";
import { join } from "node:path";
import type { PeerKey } from "../core/types.js";
import type { Iterator } from "../node/iterator.js";
import type { StateMachine } from "../node/state-machine.js";
import { Status } from "../node/closure.js";
import { dataKey, type SafetyChecker } from "./checkers.js";

/** What an apply of a register write resolves with. */
export interface RegisterWriteResult {
  readonly index: number;
  /** The register's value before this write (0 when never written). */
  readonly previous: bigint;
}

const PAD_SEPARATOR = 0x7c; // "|"

/** The entry that sets register `key` to `value`, padded to at least `minBytes`. */
export function encodeWrite(key: string, value: bigint, minBytes = 0): Uint8Array {
  const head = new TextEncoder().encode(`${key}=${value}`);
  if (minBytes <= head.length) return head;
  const data = new Uint8Array(minBytes); // zero padding
  data.set(head);
  data[head.length] = PAD_SEPARATOR;
  return data;
}

/** The register write an entry holds, or undefined for other data. */
export function decodeWrite(data: Uint8Array): { key: string; value: bigint } | undefined {
  const end = data.indexOf(PAD_SEPARATOR);
  const head = new TextDecoder().decode(data.subarray(0, end < 0 ? Math.min(data.length, 64) : end));
  const match = /^(k\d+)=(\d+)$/.exec(head);
  if (match === null) return undefined;
  return { key: match[1] as string, value: BigInt(match[2] as string) };
}

/** A node's registers as its state machine holds them right now (read-only to readers). */
export interface RegisterView {
  read(key: string): bigint;
  /** The index of the last entry applied (or loaded from a snapshot). */
  readonly appliedIndex: number;
}

interface Applied {
  readonly index: number;
  readonly term: number;
  readonly key: string;
}

/** A recording register state machine for `peer`; `view` is handed to readers. */
export function registerFsm(
  peer: PeerKey,
  checker: SafetyChecker,
): { fsm: StateMachine; view: RegisterView } {
  let registers = new Map<string, bigint>();
  let applied: Applied[] = [];
  let appliedIndex = 0;
  const view: RegisterView = {
    read: (key) => registers.get(key) ?? 0n,
    get appliedIndex() {
      return appliedIndex;
    },
  };
  const fsm: StateMachine = {
    onApply: (iter: Iterator) => {
      for (const entry of iter) {
        const key = dataKey(entry.data);
        checker.observeAppliedKey(peer, entry.index, entry.term, key);
        applied.push({ index: entry.index, term: entry.term, key });
        appliedIndex = entry.index;
        const write = decodeWrite(entry.data);
        if (write === undefined) {
          entry.done?.setResult?.(entry.index);
          continue;
        }
        const result: RegisterWriteResult = { index: entry.index, previous: registers.get(write.key) ?? 0n };
        registers.set(write.key, write.value);
        entry.done?.setResult?.(result);
      }
    },
    onSnapshotSave: (writer, done) => {
      const state = { applied, registers: [...registers].map(([k, v]) => [k, v.toString()]) };
      const path = join(writer.path, "data");
      const saved = () => {
        writer.addFile("data");
        done.run(Status.OK());
      };
      if (writer.fileSystem === undefined) {
        writeFileSync(path, JSON.stringify(state));
        return saved();
      }
      // The state is taken above, synchronously; writing it may finish later (braft's contract).
      return writeThrough(writer.fileSystem, path, JSON.stringify(state)).then(saved, (error: unknown) =>
        done.run(Status.error("EIO", `snapshot save failed: ${String(error)}`)),
      );
    },
    onSnapshotLoad: (reader) => {
      const path = join(reader.path, "data");
      const load = (text: string): void => {
        const state = JSON.parse(text) as { applied: Applied[]; registers: [string, string][] };
        applied = state.applied;
        registers = new Map(state.registers.map(([k, v]) => [k, BigInt(v)]));
        checker.observeSnapshotLoad(peer, applied);
        appliedIndex = reader.loadMeta().lastIncludedIndex;
      };
      // Synchronous without an adaptor, so runs without one stay what they were.
      if (reader.fileSystem === undefined) return load(readFileSync(path, "utf8"));
      return readThrough(reader.fileSystem, path).then(load);
    },
    // A healthy run never puts a node in ERROR: a broken core invariant lands here.
    onError: (error) => checker.violate(`${peer} entered the ERROR state: ${error.message}`),
  };
  return { fsm, view };
}

/** Writes `text` as the whole file `path` through a snapshot's FileSystemAdaptor. */
async function writeThrough(fs: FileSystemAdaptor, path: string, text: string): Promise<void> {
  await withFile(checkedFileSystem(fs), path, FileOpenFlags.writeNew, (file) =>
    file.write(new TextEncoder().encode(text), 0),
  );
}

async function readThrough(fs: FileSystemAdaptor, path: string): Promise<string> {
  return new TextDecoder().decode(await readWholeFile(checkedFileSystem(fs), path));
}
