/**
 * Benchmark of the local:// log with fsync on (braft's defaults: raft_sync, fsync rather than
 * fdatasync): appends/s and MB/s for entry sizes 32 B .. 64 KiB and batch sizes 1, 16, 256 with
 * one batch in flight (so every batch pays its own fsync), plus group commit with 64 single-entry
 * appends in flight. Beside them, the raw rate of append + fdatasync / fsync of the same disk,
 * measured by this script in the same directory.
 *
 *   npm run bench:log-storage -- [--dir DIR] [--duration-ms N]
 *
 * Prints one JSON line per measurement, then a table.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EntryType, type LogEntry } from "../src/core/types.js";
import { SegmentLogStorage } from "../src/storage/local/segment-log-storage.js";

const ENTRY_SIZES = [32, 256, 4096, 65536];
const BATCH_SIZES = [1, 16, 256];
/** Appends in flight for the group-commit rows. */
const GROUP_COMMIT_IN_FLIGHT = 64;
/** Caps what one configuration writes, so 64 KiB x 256 runs cannot fill a small disk. */
const BYTES_PER_CONFIG_MAX = 1024 * 1024 * 1024;
/** Slices of the paired raw-vs-log comparison: alternating cancels the drift of a shared disk. */
const PAIRED_SLICES = 6;

const { values } = parseArgs({
  options: { dir: { type: "string" }, "duration-ms": { type: "string", default: "1500" } },
});
const durationMs = Number(values["duration-ms"]);

interface Rate {
  readonly ops: number;
  readonly seconds: number;
}

/** The disk's own rate: append `bytes` then fdatasync (or fsync), one at a time, for `ms`. */
async function rawSyncRate(dir: string, bytes: number, useFsync: boolean, ms: number): Promise<Rate> {
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

/** An open log and the next index to append. */
interface LogRun {
  readonly log: SegmentLogStorage;
  readonly dir: string;
  next: number;
}

async function openRun(dir: string, name: string): Promise<LogRun> {
  const logDir = join(dir, name);
  const log = new SegmentLogStorage(logDir);
  await log.init(() => undefined);
  return { log, dir: logDir, next: 1 };
}

async function closeRun(run: LogRun): Promise<void> {
  await run.log.close();
  await rm(run.dir, { recursive: true, force: true });
}

/** Appends batches for `ms`, keeping `inFlight` appends outstanding; returns batches done. */
async function appendFor(run: LogRun, entryBytes: number, batch: number, inFlight: number, ms: number) {
  const data = new Uint8Array(entryBytes).fill(42);
  const pending = new Set<Promise<void>>();
  const firstIndex = run.next;
  let batches = 0;
  const start = performance.now();
  while (performance.now() - start < ms && (run.next - firstIndex) * entryBytes < BYTES_PER_CONFIG_MAX) {
    const entries: LogEntry[] = [];
    for (let i = 0; i < batch; i++)
      entries.push({ index: run.next + i, term: 1, type: EntryType.DATA, data });
    run.next += batch;
    const write = run.log.appendEntries(entries);
    pending.add(write);
    void write.then(() => pending.delete(write));
    if (pending.size >= inFlight) await Promise.race(pending);
    batches++;
  }
  await Promise.all(pending);
  return { ops: batches, seconds: (performance.now() - start) / 1000 };
}

interface Result {
  readonly bench: "log-storage";
  readonly entryBytes: number;
  readonly batch: number;
  readonly inFlight: number;
  readonly appendsPerS: number;
  readonly mbPerS: number;
  readonly batchesPerS: number;
}

async function measure(dir: string, entryBytes: number, batch: number, inFlight: number): Promise<Result> {
  const run = await openRun(dir, `log-${entryBytes}-${batch}-${inFlight}`);
  const { ops, seconds } = await appendFor(run, entryBytes, batch, inFlight, durationMs);
  await closeRun(run);
  const appends = ops * batch;
  return {
    bench: "log-storage",
    entryBytes,
    batch,
    inFlight,
    appendsPerS: Math.round(appends / seconds),
    mbPerS: Number(((appends * entryBytes) / seconds / 1e6).toFixed(2)),
    batchesPerS: Math.round(ops / seconds),
  };
}

/** Bytes one batch of 256 entries of 256 B takes on disk (24-byte headers). */
const BATCH_256X256_BYTES = 256 * (24 + 256);

/** Rates per second of the paired comparison. */
interface Paired {
  readonly raw: number;
  readonly rawFsync: number;
  readonly rawBatchBytes: number;
  readonly log: number;
}

/**
 * The goal, measured robustly: 256-entry batches of 256 B against raw 256 B
 * append + fdatasync, in alternating slices so both see the same disk.
 */
async function pairedGoal(dir: string): Promise<Paired> {
  const run = await openRun(dir, "log-paired");
  const slice = durationMs / 2;
  const sums = {
    raw: { ops: 0, seconds: 0 },
    rawFsync: { ops: 0, seconds: 0 },
    rawBatchBytes: { ops: 0, seconds: 0 },
    log: { ops: 0, seconds: 0 },
  };
  for (let i = 0; i < PAIRED_SLICES; i++) {
    for (const [key, rate] of [
      ["raw", await rawSyncRate(dir, 256, false, slice)],
      ["rawFsync", await rawSyncRate(dir, 256, true, slice)],
      ["rawBatchBytes", await rawSyncRate(dir, BATCH_256X256_BYTES, true, slice)],
      ["log", await appendFor(run, 256, 256, 1, slice)],
    ] as const) {
      sums[key].ops += rate.ops;
      sums[key].seconds += rate.seconds;
    }
  }
  await closeRun(run);
  const perS = (r: Rate) => Math.round(r.ops / r.seconds);
  return {
    raw: perS(sums.raw),
    rawFsync: perS(sums.rawFsync),
    rawBatchBytes: perS(sums.rawBatchBytes),
    log: perS(sums.log),
  };
}

async function main(): Promise<void> {
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), "tsraft-bench-")));
  try {
    const results: Result[] = [];
    for (const entryBytes of ENTRY_SIZES) {
      for (const batch of BATCH_SIZES) results.push(await measure(dir, entryBytes, batch, 1));
      results.push(await measure(dir, entryBytes, 1, GROUP_COMMIT_IN_FLIGHT));
    }
    for (const r of results) console.log(JSON.stringify(r));
    const goal = await pairedGoal(dir);
    console.log(JSON.stringify({ bench: "raw-vs-log-256x256B", ...goal }));
    printTable(results, goal);
  } finally {
    if (values.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

function printTable(results: readonly Result[], goal: Paired): void {
  console.log("\n| entry | batch | in flight | appends/s | MB/s | batches/s |");
  console.log("|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    console.log(
      `| ${r.entryBytes} B | ${r.batch} | ${r.inFlight} | ${r.appendsPerS} | ${r.mbPerS} | ${r.batchesPerS} |`,
    );
  }
  const ratio = goal.log / goal.raw;
  console.log(
    `\nPaired (alternating slices): raw 256 B append+fdatasync ${goal.raw}/s, append+fsync ${goal.rawFsync}/s; ` +
      `append of one batch's bytes (${BATCH_256X256_BYTES} B)+fsync ${goal.rawBatchBytes}/s; ` +
      `log 256 x 256 B batches ${goal.log}/s (${goal.log * 256} appends/s) = ${ratio.toFixed(2)} of raw fdatasync; ` +
      `goal >= 0.50: ${ratio >= 0.5 ? "met" : "MISSED"}`,
  );
}

await main();
