/** Shared helpers of the storage tests. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RaftError, type ErrorCode } from "../../src/core/errors.js";
import { EMPTY_DATA, EntryType, type ConfigurationData, type LogEntry } from "../../src/core/types.js";
import { pollUntil } from "../support/poll.js";

/** A fresh temporary directory; remove it with {@link removeDir}. */
export async function tempDir(prefix = "tsraft-storage-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Deterministic payload for entry `index` of `size` bytes, so reads can be checked byte by byte. */
export function payloadFor(index: number, size: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i * 7) & 0xff;
  return data;
}

export function dataEntry(index: number, term: number, size = 16): LogEntry {
  return { index, term, type: EntryType.DATA, data: payloadFor(index, size) };
}

export function noopEntry(index: number, term: number): LogEntry {
  return { index, term, type: EntryType.NO_OP, data: EMPTY_DATA };
}

export function confEntry(index: number, term: number, conf: ConfigurationData): LogEntry {
  return { index, term, type: EntryType.CONFIGURATION, data: EMPTY_DATA, conf };
}

/** Entries [from, to] of `term` with `size`-byte payloads. */
export function dataEntries(from: number, to: number, term: number, size = 16): LogEntry[] {
  const out: LogEntry[] = [];
  for (let i = from; i <= to; i++) out.push(dataEntry(i, term, size));
  return out;
}

/** Asserts that `promise` rejects with a RaftError of `code`; returns it for further checks. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<RaftError> {
  try {
    await promise;
  } catch (err) {
    if (RaftError.is(err) && err.code === code) return err;
    throw new Error(`expected RaftError ${code}, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected RaftError ${code}, but it resolved`);
}

/** Same as {@link rejectsWith} for a synchronous call. */
export function throwsWith(fn: () => unknown, code: ErrorCode): RaftError {
  try {
    fn();
  } catch (err) {
    if (RaftError.is(err) && err.code === code) return err;
    throw new Error(`expected RaftError ${code}, got ${String(err)}`, { cause: err });
  }
  throw new Error(`expected RaftError ${code}, but it returned`);
}

/** A small seeded PRNG (mulberry32) so randomized tests replay from their seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await pollUntil(what, check, { timeoutMs });
}

/** Payload size of entry `index` in the crash tests: the parent checks contents it never saw. */
export function crashPayloadSize(index: number): number {
  return (index * 7919) % 1500;
}

/** The storage URIs of a node whose data lives under `dir` (the layout of braft's examples). */
export function nodeUris(dir: string): { logUri: string; raftMetaUri: string; snapshotUri: string } {
  return {
    logUri: `local://${dir}/log`,
    raftMetaUri: `local://${dir}/raft_meta`,
    snapshotUri: `local://${dir}/snapshot`,
  };
}
