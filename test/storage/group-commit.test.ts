/**
 * The local:// log's write path: a batch costs one write and one fsync, and appends that arrive
 * while an fsync runs share the next one (group commit).
 */
import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { countCalls, inject, restoreFileHandle } from "./fault-injection.js";
import { dataEntries, removeDir, tempDir } from "./helpers.js";
import { assertEntries } from "./log-contract.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});
afterEach(restoreFileHandle);

async function newLog(options: ConstructorParameters<typeof SegmentLogStorage>[1] = {}) {
  const dir = await tempDir("tsraft-group-");
  dirs.push(dir);
  // The injection counts FileHandle calls: the threadpool path (inline writes skip FileHandle).
  const log = new SegmentLogStorage(dir, { inlineSync: false, ...options });
  await log.init(() => undefined);
  return log;
}

describe("group commit", () => {
  it("OneWriteOneFsync: a batch of 256 entries costs one write and one fsync", async () => {
    const log = await newLog();
    await log.appendEntries(dataEntries(1, 1, 1)); // the segment file exists from here on
    const writes = await countCalls("writev");
    const syncs = await countCalls("sync");
    await log.appendEntries(dataEntries(2, 257, 1, 256));
    assert.equal(writes.calls, 1);
    assert.equal(syncs.calls, 1);
    await log.close();
  });

  it("SharedFsync: appends issued during an fsync are written and synced together", async () => {
    const log = await newLog();
    await log.appendEntries(dataEntries(1, 1, 1));
    const writes = await countCalls("writev");
    const syncs = await countCalls("sync");
    const appends: Promise<void>[] = [];
    for (let i = 2; i <= 101; i++) appends.push(log.appendEntries(dataEntries(i, i, 1)));
    await Promise.all(appends);
    // The first append runs alone; the 99 that queued behind its fsync form one group.
    assert.equal(syncs.calls, 2);
    assert.equal(writes.calls, 2);
    assertEntries(log, dataEntries(1, 101, 1));
    await log.close();
  });

  it("DurableBeforeResolve: an append resolves only after its fsync completed", async () => {
    const log = await newLog();
    await log.appendEntries(dataEntries(1, 1, 1));
    let syncsDone = 0;
    await inject("sync", async (orig, self, args) => {
      const result = await orig.apply(self, args);
      syncsDone++;
      return result;
    });
    await log.appendEntries(dataEntries(2, 2, 1));
    assert.equal(syncsDone, 1);
    await log.close();
  });

  it("FdatasyncOption: raft_use_fsync_rather_than_fdatasync=false uses fdatasync; raft_sync=false neither", async () => {
    const datasync = await newLog({ raft_use_fsync_rather_than_fdatasync: false });
    await datasync.appendEntries(dataEntries(1, 1, 1));
    const unsynced = await newLog({ raft_sync: false });
    await unsynced.appendEntries(dataEntries(1, 1, 1));
    const syncs = await countCalls("sync");
    const datasyncs = await countCalls("datasync");
    await datasync.appendEntries(dataEntries(2, 3, 1));
    assert.deepEqual([syncs.calls, datasyncs.calls], [0, 1]);
    await unsynced.appendEntries(dataEntries(2, 3, 1));
    assert.deepEqual([syncs.calls, datasyncs.calls], [0, 1]);
    await datasync.close();
    await unsynced.close();
  });

  it("Rollover: a group crossing the segment limit continues in a new segment", async () => {
    const log = await newLog({ raft_max_segment_size: 4096 });
    await log.appendEntries(dataEntries(1, 100, 1, 100));
    assertEntries(log, dataEntries(1, 100, 1, 100));
    await log.close();
  });
});
