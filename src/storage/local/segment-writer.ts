/**
 * How a log append reaches the disk: inline (writeSync + fsync on the event loop) or on libuv's
 * threadpool (two promise-based file operations).
 *
 * Measured on a 2-core VM with three server processes, a threadpool write + fsync took about
 * 0.8 ms where the same calls made inline took 0.3-0.4 ms: each threadpool operation costs a
 * thread hand-off and a wake-up. Inline is the latency path of a process with one busy group
 * (counter benchmark: 1 caller 260 -> 390 ops/s, 8 callers 1,670 -> 2,160, median of three).
 *
 * Inline blocks the loop for one fsync, so it is used only when no other log write of this
 * process is on the threadpool: with many groups writing at once, their fsyncs overlap on the
 * threadpool instead of queueing behind each other on the loop. Before blocking, every frame
 * corked in this turn is written (runBeforeBlocking), so the leader's AppendEntries reach the
 * followers first and their fsyncs overlap the leader's.
 *
 * Inline also needs the fsyncs to be quick: once a log fsync of this process took longer than
 * `inlineFsyncMsMax` (1 ms by default), appends go to the threadpool until one is quick again.
 * A slow fsync (a batch of large entries, a disk shared with other work) blocked the loop for
 * all of its duration: at 64 KiB x 8 callers on a busy machine, fsyncs of 10-20 ms each held up
 * the reading of the followers' answers and of new requests, so each fsync carried about two
 * entries (docs/benchmarks.md, "Large entries"). On the threadpool, the appends that arrive
 * during an fsync are merged into the next one (WriteQueue).
 *
 * The first inline append of a turn starts at once, in the turn that asked for it: a follower
 * answers its AppendEntries in the turn that read it, the leader's fsync starts as soon as the
 * request is proposed. A second append in the same turn waits for the check phase instead, so
 * whatever else the turn's reads queue behind it is merged into one write + fsync (group commit
 * under load, as before).
 */
import { fdatasyncSync, fsyncSync, writevSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { syncFile } from "./fs-util.js";
import type { StorageMetrics } from "./options.js";
import { runBeforeBlocking } from "../../env/before-blocking.js";

/** Log writes of this process now on the threadpool. */
let threadpoolWrites = 0;
/** How long the latest log fsync of this process took (either path). */
let lastFsyncMs = 0;
/** An inline append already blocked the loop in this turn (cleared in the turn's check phase). */
let inlineThisTurn = false;
const endTurn = (): void => {
  inlineThisTurn = false;
};

export interface AppendWrite {
  /** The bytes to write, back to back (one writev): see ChunkEncoder. */
  readonly parts: readonly Uint8Array[];
  /** Total bytes of `parts`. */
  readonly bytes: number;
  readonly position: number;
  readonly sync: boolean;
  readonly useFsync: boolean;
  /** Allow the inline path (LocalStorageOptions.inlineSync). */
  readonly inline: boolean;
  /** Leave the inline path while the latest fsync took longer (LocalStorageOptions.inlineFsyncMsMax). */
  readonly inlineFsyncMsMax: number;
  readonly metrics: StorageMetrics | undefined;
}

/** Writes the parts at `position` and syncs them when asked; rejects with the I/O error. */
export async function writeAppend(fh: FileHandle, w: AppendWrite): Promise<void> {
  if (inlineAllowed(w)) {
    if (inlineThisTurn) await new Promise<void>((resolve) => setImmediate(resolve));
    if (inlineAllowed(w)) {
      if (!inlineThisTurn) {
        inlineThisTurn = true;
        setImmediate(endTurn);
      }
      runBeforeBlocking();
      return writeInline(fh.fd, w);
    }
  }
  threadpoolWrites++;
  try {
    await writevFully(fh, w.parts, w.bytes, w.position);
    if (!w.sync) return;
    const startMs = performance.now();
    await syncFile(fh, w.useFsync);
    fsyncTook(performance.now() - startMs, w);
  } finally {
    threadpoolWrites--;
  }
}

function writeInline(fd: number, w: AppendWrite): void {
  let parts = w.parts;
  let done = 0;
  while (done < w.bytes) {
    const written = writevSync(fd, parts as Uint8Array[], w.position + done);
    if (written <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    done += written;
    if (done < w.bytes) parts = partsAfter(w.parts, done);
  }
  if (!w.sync) return;
  const startMs = performance.now();
  if (w.useFsync) fsyncSync(fd);
  else fdatasyncSync(fd);
  fsyncTook(performance.now() - startMs, w);
}

/** Inline when allowed, no log write is on the threadpool and the latest fsync was quick. */
function inlineAllowed(w: AppendWrite): boolean {
  return w.inline && threadpoolWrites === 0 && lastFsyncMs <= w.inlineFsyncMsMax;
}

function fsyncTook(ms: number, w: AppendWrite): void {
  lastFsyncMs = ms;
  w.metrics?.observeFsync(ms / 1000);
}

/** Writes every part at `position` on the threadpool, looping over short writes. */
async function writevFully(
  fh: FileHandle,
  parts: readonly Uint8Array[],
  bytes: number,
  position: number,
): Promise<void> {
  let rest = parts;
  let done = 0;
  while (done < bytes) {
    const { bytesWritten } = await fh.writev(rest as Uint8Array[], position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    done += bytesWritten;
    if (done < bytes) rest = partsAfter(parts, done);
  }
}

/** What is left of `parts` once their first `skip` bytes are written (a short write: rare). */
export function partsAfter(parts: readonly Uint8Array[], skip: number): Uint8Array[] {
  const rest: Uint8Array[] = [];
  for (const part of parts) {
    if (skip >= part.length) {
      skip -= part.length;
      continue;
    }
    rest.push(skip > 0 ? part.subarray(skip) : part);
    skip = 0;
  }
  return rest;
}
