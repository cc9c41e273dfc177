/** The storage URI registry: built-in schemes, user schemes, errors that name the problem. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { LocalRaftMetaStorage } from "../../src/storage/local/local-meta-storage.js";
import { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import {
  clearMemoryStores,
  createLogStorageFromUri,
  createRaftMetaStorageFromUri,
  createSnapshotStorageFromUri,
  registerLogStorage,
} from "../../src/storage/registry.js";
import { dataEntries, throwsWith } from "./helpers.js";

describe("storage registry", () => {
  it("LocalPaths: local://data is relative to the working directory, local:///abs absolute", () => {
    const relative = createLogStorageFromUri("local://data/log");
    assert.ok(relative instanceof SegmentLogStorage);
    assert.equal(relative.path, join(process.cwd(), "data/log"));
    const absolute = createRaftMetaStorageFromUri("local:///var/lib/raft/meta");
    assert.ok(absolute instanceof LocalRaftMetaStorage);
    assert.equal(absolute.path, "/var/lib/raft/meta");
    const snapshots = createSnapshotStorageFromUri("local://./snap");
    assert.ok(snapshots instanceof LocalSnapshotStorage);
    assert.equal(snapshots.path, join(process.cwd(), "snap"));
  });

  it("UnknownScheme: EINVAL naming the scheme and the registered ones", () => {
    const err = throwsWith(() => createLogStorageFromUri("rocksdb://x"), "EINVAL");
    assert.match(
      err.message,
      /unknown log storage scheme "rocksdb" in "rocksdb:\/\/x" \(registered: local, memory/,
    );
    throwsWith(() => createSnapshotStorageFromUri("nope://x"), "EINVAL");
    throwsWith(() => createRaftMetaStorageFromUri("/just/a/path"), "EINVAL");
    throwsWith(() => createLogStorageFromUri("local://"), "EINVAL");
  });

  it("UserScheme: a registered factory gets the path and options; a taken scheme is EEXIST", () => {
    const seen: unknown[] = [];
    registerLogStorage("custom", (path, options) => {
      seen.push(path, options.raft_sync);
      return new MemoryLogStorage();
    });
    assert.ok(createLogStorageFromUri("custom://a/b", { raft_sync: false }) instanceof MemoryLogStorage);
    assert.deepEqual(seen, ["a/b", false]);
    throwsWith(() => registerLogStorage("custom", () => new MemoryLogStorage()), "EEXIST");
    throwsWith(() => registerLogStorage("local", () => new MemoryLogStorage()), "EEXIST");
    throwsWith(() => registerLogStorage("bad scheme", () => new MemoryLogStorage()), "EINVAL");
  });

  it("MemoryRestart: a node restarted in the same process sees its memory:// data", async () => {
    const first = createLogStorageFromUri("memory://registry-n1/log");
    await first.init(() => undefined);
    await first.appendEntries(dataEntries(1, 3, 2));
    await first.close();
    const meta = createRaftMetaStorageFromUri("memory://registry-n1/meta");
    await meta.init();
    await meta.setTermAndVotedFor({ term: 2, votedFor: "a:1:0" });
    const second = createLogStorageFromUri("memory://registry-n1/log");
    await second.init(() => undefined);
    assert.equal(second.lastLogIndex(), 3);
    const other = createLogStorageFromUri("memory://registry-n2/log");
    await other.init(() => undefined);
    assert.equal(other.lastLogIndex(), 0);
    const metaAgain = createRaftMetaStorageFromUri("memory://registry-n1/meta");
    await metaAgain.init();
    assert.deepEqual(metaAgain.getTermAndVotedFor(), { term: 2, votedFor: "a:1:0" });
    clearMemoryStores();
    const cleared = createLogStorageFromUri("memory://registry-n1/log");
    await cleared.init(() => undefined);
    assert.equal(cleared.lastLogIndex(), 0);
  });
});
