import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeAppend, type AppendWrite } from "../../src/storage/local/segment-writer.js";
import { onBeforeBlocking } from "../../src/env/before-blocking.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { dataEntries, removeDir, tempDir } from "./helpers.js";

function inlineWrite(
  text: string,
  position: number,
  inlineFsyncMsMax = Number.POSITIVE_INFINITY,
): AppendWrite {
  return {
    parts: [Buffer.from(text)],
    bytes: Buffer.byteLength(text),
    position,
    sync: true,
    useFsync: true,
    inline: true,
    inlineFsyncMsMax,
    metrics: undefined,
  };
}

test("the first inline append of a turn is on disk before the call returns, after the corked frames were flushed", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-segment-writer-"));
  const file = join(dir, "log");
  const fh = await open(file, "w+");
  const events: string[] = [];
  const removeHook = onBeforeBlocking(() => events.push("flush"));
  try {
    await new Promise((resolve) => setImmediate(resolve)); // a fresh turn
    const first = writeAppend(fh, inlineWrite("ab", 0));
    events.push(`file=${readFileSync(file, "utf8")}`);
    const second = writeAppend(fh, inlineWrite("cd", 2));
    events.push(`file=${readFileSync(file, "utf8")}`);
    await Promise.all([first, second]);
    events.push(`file=${readFileSync(file, "utf8")}`);
    // The second append of the turn waited for the check phase, to merge with later ones.
    assert.deepEqual(events, ["flush", "file=ab", "file=ab", "flush", "file=abcd"]);
  } finally {
    removeHook();
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an append to the open segment reaches the disk within the appendEntries call (no microtask before the write)", async () => {
  const dir = await tempDir("tsraft-sync-append-");
  const log = new SegmentLogStorage(dir, { inlineSync: true, inlineFsyncMsMax: Number.POSITIVE_INFINITY });
  const flushes: number[] = [];
  const removeHook = onBeforeBlocking(() => flushes.push(1));
  try {
    await log.init(() => undefined);
    await log.appendEntries(dataEntries(1, 1, 1)); // opens the segment
    await new Promise((resolve) => setImmediate(resolve)); // a fresh turn
    flushes.length = 0;
    const appended = log.appendEntries(dataEntries(2, 2, 1));
    // The write and fsync ran inside the call: the corked frames were flushed right before them.
    assert.equal(flushes.length, 1);
    await appended;
  } finally {
    removeHook();
    await log.close();
    await removeDir(dir);
  }
});

test("after an fsync slower than inlineFsyncMsMax the next append goes to the threadpool, and after a quick one inline again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-segment-writer-"));
  const file = join(dir, "log");
  const fh = await open(file, "w+");
  // Only the inline path flushes the corked frames before it blocks: a flush marks an inline append.
  let flushes = 0;
  const removeHook = onBeforeBlocking(() => flushes++);
  /** Waits for an append, then for a fresh turn (a second append in one turn waits anyway). */
  const settle = async (append: Promise<void>): Promise<void> => {
    await append;
    await new Promise((resolve) => setImmediate(resolve));
  };
  try {
    await new Promise((resolve) => setImmediate(resolve));
    let before = flushes;
    await settle(writeAppend(fh, inlineWrite("ab", 0)));
    assert.equal(flushes - before, 1, "the first append is inline");
    // Any real fsync takes more than 0 ms: under a bound of 0 the first one was slow.
    before = flushes;
    await settle(writeAppend(fh, inlineWrite("cd", 2, 0)));
    assert.equal(flushes - before, 0, "the second append went to the threadpool");
    // Under a bound the last fsync met, appends are inline again.
    before = flushes;
    await settle(writeAppend(fh, inlineWrite("ef", 4)));
    assert.equal(flushes - before, 1, "the third append is inline again");
    assert.equal(readFileSync(file, "utf8"), "abcdef");
  } finally {
    removeHook();
    await fh.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
