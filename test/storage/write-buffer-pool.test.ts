/**
 * The process's pool of log write buffers (write-buffer-pool.ts): a local:// log borrows a buffer
 * for each write and gives it back, so an idle log holds none and logs share what the pool keeps.
 * Each test file runs in its own process, so the pool starts empty here.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import {
  POOL_BYTES_MAX,
  WRITE_BUFFER_BYTES_MIN,
  WRITE_BUFFER_KEPT_BYTES_MAX,
  giveWriteBuffer,
  pooledWriteBuffers,
  takeWriteBuffer,
} from "../../src/storage/local/write-buffer-pool.js";
import { assertEntries } from "./log-contract.js";
import { dataEntries, removeDir, tempDir } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

async function openLog(): Promise<{ log: SegmentLogStorage; dir: string }> {
  const dir = await tempDir();
  dirs.push(dir);
  const log = new SegmentLogStorage(dir, { recentEntriesMax: 0 });
  await log.init(() => undefined);
  return { log, dir };
}

test("IdleLogsHoldNoWriteBuffer: after their appends, two logs leave one shared buffer in the pool", async () => {
  assert.deepEqual(pooledWriteBuffers(), { count: 0, bytes: 0 });
  const a = await openLog();
  const b = await openLog();
  await a.log.appendEntries(dataEntries(1, 10, 1));
  assert.deepEqual(
    pooledWriteBuffers(),
    { count: 1, bytes: WRITE_BUFFER_BYTES_MIN },
    "A gave its buffer back",
  );
  await b.log.appendEntries(dataEntries(1, 20, 1));
  await a.log.appendEntries(dataEntries(11, 12, 1));
  assert.deepEqual(pooledWriteBuffers(), { count: 1, bytes: WRITE_BUFFER_BYTES_MIN }, "B and A reused it");
  // What went through the shared buffer is each log's own data, on disk.
  await a.log.close();
  await b.log.close();
  const reopenedA = new SegmentLogStorage(a.dir, { recentEntriesMax: 0 });
  const reopenedB = new SegmentLogStorage(b.dir, { recentEntriesMax: 0 });
  await reopenedA.init(() => undefined);
  await reopenedB.init(() => undefined);
  assertEntries(reopenedA, dataEntries(1, 12, 1));
  assertEntries(reopenedB, dataEntries(1, 20, 1));
  await reopenedA.close();
  await reopenedB.close();
});

test("WriteBufferPoolBound: buffers over the kept size, and beyond the pool's bytes, are dropped", () => {
  const start = pooledWriteBuffers();
  const big = takeWriteBuffer(WRITE_BUFFER_KEPT_BYTES_MAX + 1);
  giveWriteBuffer(big);
  assert.deepEqual(pooledWriteBuffers(), start, "an oversized buffer is not kept");
  const lent = Array.from({ length: POOL_BYTES_MAX / WRITE_BUFFER_KEPT_BYTES_MAX + 4 }, () =>
    takeWriteBuffer(WRITE_BUFFER_KEPT_BYTES_MAX),
  );
  for (const buffer of lent) giveWriteBuffer(buffer);
  assert.ok(pooledWriteBuffers().bytes <= POOL_BYTES_MAX, "the pool stays within its bound");
  const again = takeWriteBuffer(100);
  assert.ok(again.buf.length >= 100 && again.view.byteLength === again.buf.length);
});

test("SmallWritesBorrowSmallBuffers: with the pool empty, a 100-byte write borrows 4 KiB and a 5,000-byte one 8 KiB (powers of two)", () => {
  // Thousands of groups writing one small entry each at once (a mass election) held 64 KiB each.
  const drained: ReturnType<typeof takeWriteBuffer>[] = [];
  while (pooledWriteBuffers().count > 0) drained.push(takeWriteBuffer(1));
  assert.equal(takeWriteBuffer(100).buf.length, 4096);
  assert.equal(takeWriteBuffer(5000).buf.length, 8192);
  assert.equal(takeWriteBuffer(WRITE_BUFFER_KEPT_BYTES_MAX).buf.length, WRITE_BUFFER_KEPT_BYTES_MAX);
  for (const buffer of drained) giveWriteBuffer(buffer);
});
