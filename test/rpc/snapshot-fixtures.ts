/** Shared pieces of the snapshot copy tests: local snapshots on disk, fake clocks, file bytes. */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { RaftError, type ErrorCode } from "../../src/core/errors.js";
import type { CopyClock } from "../../src/rpc/snapshot-throttle.js";
import { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import type { SnapshotFileMeta, SnapshotMeta } from "../../src/storage/snapshot-storage.js";

/** A fresh temporary directory. */
export function tempDir(prefix = "tsraft-copy-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** The pattern seed of a file: its name, so equal names mean equal contents across snapshots. */
export function seedOf(name: string): number {
  let seed = 0;
  for (const ch of name) seed = (seed * 31 + ch.charCodeAt(0)) & 0xffff;
  return seed;
}

/** Deterministic bytes for `size` bytes starting at `offset` of a file seeded by `seed`. */
export function patternBytes(seed: number, offset: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) buf[i] = ((offset + i) * 131 + seed * 7 + ((offset + i) >>> 9)) & 0xff;
  return buf;
}

/** Writes a `size`-byte pattern file 1 MiB at a time, so a large file costs the test little memory. */
export async function writePatternFile(path: string, seed: number, size: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, "w");
  try {
    const step = 1024 * 1024;
    for (let at = 0; at < size; at += step) {
      const data = patternBytes(seed, at, Math.min(step, size - at));
      await fh.write(data, 0, data.length, at);
    }
  } finally {
    await fh.close();
  }
}

/** sha256 of a file, streamed. */
export async function fileHash(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** One file of a test snapshot: its content as bytes, or a pattern of `size` bytes. */
export interface FileSpec {
  readonly name: string;
  readonly content?: string | Uint8Array;
  readonly size?: number;
  readonly meta?: SnapshotFileMeta;
}

export const META_AT = (index: number): SnapshotMeta => ({
  lastIncludedIndex: index,
  lastIncludedTerm: 3,
  peers: ["127.0.0.1:8100:0", "127.0.0.1:8101:0", "127.0.0.1:8102:0"],
});

/** A LocalSnapshotStorage in `dir` holding one snapshot at `index` with `files`. */
export async function localSnapshot(
  dir: string,
  index: number,
  files: readonly FileSpec[],
  storage = new LocalSnapshotStorage(dir),
): Promise<LocalSnapshotStorage> {
  await storage.init();
  const writer = await storage.create();
  for (const spec of files) {
    const path = join(writer.path, spec.name);
    if (spec.content !== undefined) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, spec.content);
    } else {
      await writePatternFile(path, seedOf(spec.name), spec.size ?? 0);
    }
    writer.addFile(spec.name, spec.meta);
  }
  writer.saveMeta(META_AT(index));
  await storage.closeWriter(writer);
  return storage;
}

/** Virtual time: timers fire only when the test advances the clock. */
export class ManualClock implements CopyClock {
  private now = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  nowMs(): number {
    return this.now;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + Math.max(0, delayMs), callback });
    return () => this.timers.delete(id);
  }

  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const target = this.now + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= target && (!due || entry[1].at < due[1].at)) due = entry;
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = target;
  }

  get pendingTimers(): number {
    return this.timers.size;
  }
}

/**
 * Virtual time that runs itself: a timer moves the clock to its deadline and fires on the next
 * macrotask, so an I/O-bound copy can be throttled on virtual time without real waiting.
 */
export class AutoClock implements CopyClock {
  private now = 0;

  nowMs(): number {
    return this.now;
  }

  setTimer(callback: () => void, delayMs: number): () => void {
    let cancelled = false;
    setImmediate(() => {
      if (cancelled) return;
      this.now += Math.max(0, delayMs);
      callback();
    });
    return () => {
      cancelled = true;
    };
  }
}

/** Asserts `promise` rejects with a RaftError of `code`; returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<RaftError> {
  try {
    await promise;
  } catch (err) {
    if (!RaftError.is(err)) throw new Error(`expected RaftError ${code}, got ${String(err)}`, { cause: err });
    if (err.code !== code)
      throw new Error(`expected ${code}, got ${err.code}: ${err.message}`, { cause: err });
    return err;
  }
  throw new Error(`expected a rejection with ${code}, but it resolved`);
}
