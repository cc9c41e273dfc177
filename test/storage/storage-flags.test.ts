/**
 * braft's storage flags, read by the local storages, and carried from a node's flags to every
 * storage its URIs create (braft's raft_sync_meta / raft_sync_segments are node flags).
 */
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RaftNode } from "../../src/node/raft-node.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import { registerLogStorage, type StorageOptions } from "../../src/storage/registry.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import type { LocalStorageOptions } from "../../src/storage/local/options.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { confEntry, dataEntry, rejectsWith, removeDir, tempDir } from "./helpers.js";

/** Opens a segment log in a fresh directory, counting its fsyncs. */
async function openCounting(
  dir: string,
  options: LocalStorageOptions,
): Promise<{ log: SegmentLogStorage; fsyncs: () => number }> {
  let fsyncs = 0;
  const log = new SegmentLogStorage(dir, {
    ...options,
    inlineSync: false,
    metrics: { observeFsync: () => fsyncs++ },
  });
  await log.init(() => undefined);
  return { log, fsyncs: () => fsyncs };
}

test("raft_sync_policy: 0 fsyncs every append; 1 waits for raft_sync_per_bytes, but never past a configuration entry", async () => {
  const dir = await tempDir();
  try {
    const each = await openCounting(join(dir, "each"), {});
    for (let i = 1; i <= 5; i++) await each.log.appendEntries([dataEntry(i, 1)]);
    assert.equal(each.fsyncs(), 5, "policy 0: one fsync per append");
    await each.log.close();

    const bytes = await openCounting(join(dir, "bytes"), { raft_sync_policy: 1, raft_sync_per_bytes: 100 });
    for (let i = 1; i <= 5; i++) await bytes.log.appendEntries([dataEntry(i, 1, 16)]);
    // 24-byte header + 16 bytes = 40 per entry: the third append reaches 120 >= 100.
    assert.equal(bytes.fsyncs(), 1, "policy 1: one fsync once 100 unsynced bytes accumulated");
    await bytes.log.appendEntries([confEntry(6, 1, { peers: ["1.1.1.1:1:0"] })]);
    assert.equal(bytes.fsyncs(), 2, "a configuration entry is synced at once");
    await bytes.log.close();
  } finally {
    await removeDir(dir);
  }
});

test("raft_recover_log_from_corrupt: off, a checksum-failing last entry refuses to open; on, it is cut off", async () => {
  const dir = await tempDir();
  try {
    const log = new SegmentLogStorage(dir, {});
    await log.init(() => undefined);
    await log.appendEntries([dataEntry(1, 1), dataEntry(2, 1), dataEntry(3, 1)]);
    await log.close();
    const segment = (await readdir(dir)).find((name) => name.startsWith("log_inprogress_")) as string;
    const bytes = await readFile(join(dir, segment));
    bytes.writeUInt8((bytes.at(-1) as number) ^ 0xff, bytes.length - 1); // the last entry's data no longer matches its checksum
    await writeFile(join(dir, segment), bytes);

    const strict = new SegmentLogStorage(dir, { raft_recover_log_from_corrupt: false });
    const error = await rejectsWith(
      strict.init(() => undefined),
      "EIO",
    );
    assert.match(error.message, /data checksum mismatch .*raft_recover_log_from_corrupt is off/);
    await strict.close();

    const lenient = new SegmentLogStorage(dir, { raft_recover_log_from_corrupt: true });
    await lenient.init(() => undefined);
    assert.equal(lenient.lastLogIndex(), 2, "the corrupt entry was cut off");
    await lenient.close();
  } finally {
    await removeDir(dir);
  }
});

test("StorageFlags: a node's flags reach the storages its URIs create", async () => {
  const seen: StorageOptions[] = [];
  registerLogStorage("capture-flags", (_path, options) => {
    seen.push(options);
    return new MemoryLogStorage();
  });
  const network = new InProcessNetwork();
  const node = new RaftNode("flags", "127.0.0.1:9301:0");
  await node.init({
    fsm: { onApply: () => undefined },
    server: network.host("127.0.0.1:9301"),
    initialConf: "127.0.0.1:9301:0",
    logUri: "capture-flags://x",
    raftMetaUri: `memory://storage-flags-${process.pid}/meta`,
    flags: {
      raft_sync_meta: true,
      raft_sync_segments: true,
      raft_sync_policy: 1,
      raft_sync_per_bytes: 4096,
      raft_create_parent_directories: false,
      raft_use_fsync_rather_than_fdatasync: false,
      raft_recover_log_from_corrupt: false,
      raft_meta_write_batch: 7,
    },
  });
  await node.shutdown();
  assert.equal(seen.length, 1);
  const options = seen[0] as StorageOptions;
  assert.equal(options.raft_sync_meta, true);
  assert.equal(options.raft_sync_segments, true);
  assert.equal(options.raft_sync_policy, 1);
  assert.equal(options.raft_sync_per_bytes, 4096);
  assert.equal(options.raft_create_parent_directories, false);
  assert.equal(options.raft_use_fsync_rather_than_fdatasync, false);
  assert.equal(options.raft_recover_log_from_corrupt, false);
  assert.equal(options.raft_meta_write_batch, 7);
});
