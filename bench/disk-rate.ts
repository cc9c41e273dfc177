/** The raw rate of the data disk, the limit every durable log is measured against. */
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import { Worker } from "node:worker_threads";

export interface Rate {
  readonly ops: number;
  readonly seconds: number;
}

/** The disk's own rate: append `bytes` then fdatasync (or fsync), one at a time, for `ms`. */
export async function rawSyncRate(dir: string, bytes: number, useFsync: boolean, ms: number): Promise<Rate> {
  const file = join(dir, "raw");
  const fh = await open(file, "w");
  const buf = Buffer.alloc(bytes, 7);
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fh.write(buf, 0, bytes, ops * bytes);
    if (useFsync) await fh.sync();
    else await fh.datasync();
    ops++;
  }
  const seconds = (performance.now() - start) / 1000;
  await fh.close();
  await rm(file);
  return { ops, seconds };
}

/**
 * One writer's loop, run in a worker thread: append + fsync with blocking calls, as a server's
 * inline log write does (no threadpool hand-off in the measured time).
 */
const SYNC_LOOP = `
const { workerData, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const { file, bytes, useFsync, ms } = workerData;
const fd = fs.openSync(file, "w");
const buf = Buffer.alloc(bytes, 7);
let ops = 0;
const start = performance.now();
while (performance.now() - start < ms) {
  fs.writeSync(fd, buf, 0, bytes, ops * bytes);
  if (useFsync) fs.fsyncSync(fd); else fs.fdatasyncSync(fd);
  ops++;
}
const seconds = (performance.now() - start) / 1000;
fs.closeSync(fd);
fs.rmSync(file);
parentPort.postMessage({ ops, seconds });
`;

/**
 * The same loop run by `writers` writers at once, each on its own file and thread: what three
 * servers on one disk see when each fsyncs its log (the disk serializes part of their flushes).
 * Resolves with the mean time of one append + sync, in microseconds.
 */
export async function concurrentSyncMeanUs(
  dir: string,
  bytes: number,
  useFsync: boolean,
  writers: number,
  ms: number,
): Promise<number> {
  const rates = await Promise.all(
    Array.from({ length: writers }, (_, i) => {
      const workerData = { file: join(dir, `raw-${i}`), bytes, useFsync, ms };
      const worker = new Worker(SYNC_LOOP, { eval: true, workerData });
      return new Promise<Rate>((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
    }),
  );
  const ops = rates.reduce((sum, rate) => sum + rate.ops, 0);
  const seconds = rates.reduce((sum, rate) => sum + rate.seconds, 0);
  return (seconds / ops) * 1e6;
}
