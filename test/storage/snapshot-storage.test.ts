/** The SnapshotStorage contract against memory:// and local://, plus local://'s layout. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { createSnapshotStorageFromUri } from "../../src/storage/registry.js";
import type { SnapshotMeta, SnapshotStorage } from "../../src/storage/snapshot-storage.js";
import { rejectsWith, removeDir, tempDir, throwsWith } from "./helpers.js";

interface SnapshotHarness {
  readonly name: string;
  newLocation(): Promise<string>;
  open(location: string): SnapshotStorage;
}

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

let memoryCount = 0;
const harnesses: SnapshotHarness[] = [
  {
    name: "memory://",
    newLocation: async () => `snapshot-contract-${process.pid}-${memoryCount++}`,
    open: (name) => createSnapshotStorageFromUri(`memory://${name}`),
  },
  {
    name: "local://",
    newLocation: async () => {
      const dir = await tempDir();
      dirs.push(dir);
      return join(dir, "snapshot");
    },
    open: (dir) => createSnapshotStorageFromUri(`local://${dir}`),
  },
];

const metaAt = (index: number): SnapshotMeta => ({
  lastIncludedIndex: index,
  lastIncludedTerm: 2,
  peers: ["127.0.0.1:8100:0", "127.0.0.1:8101:0"],
});

async function opened(h: SnapshotHarness, location: string): Promise<SnapshotStorage> {
  const storage = h.open(location);
  await storage.init();
  return storage;
}

/** Writes a snapshot at `index` holding one file `data` (plus `sub/extra`) and closes it. */
async function saveSnapshot(storage: SnapshotStorage, index: number, body: string): Promise<void> {
  const writer = await storage.create();
  await writeFile(join(writer.path, "data"), body);
  await mkdir(join(writer.path, "sub"));
  await writeFile(join(writer.path, "sub", "extra"), "x");
  writer.addFile("data", { checksum: `sum-${index}`, userMeta: new Uint8Array([index & 0xff]) });
  writer.addFile("sub/extra");
  writer.saveMeta(metaAt(index));
  await storage.closeWriter(writer);
}

for (const h of harnesses) {
  describe(`SnapshotStorage contract: ${h.name}`, () => {
    it("NoSnapshot: open finds nothing", async () => {
      const storage = await opened(h, await h.newLocation());
      assert.equal(await storage.open(), undefined);
    });

    it("SaveAndLoad: meta, file list, file meta and contents survive a restart", async () => {
      const location = await h.newLocation();
      const first = await opened(h, location);
      await saveSnapshot(first, 10, "ten");
      await first.close?.();
      const storage = await opened(h, location);
      const reader = await storage.open();
      assert.ok(reader);
      assert.deepEqual(reader.loadMeta(), metaAt(10));
      assert.deepEqual(reader.listFiles().sort(), ["data", "sub/extra"]);
      assert.equal(reader.getFileMeta("data")?.checksum, "sum-10");
      assert.deepEqual([...(reader.getFileMeta("data")?.userMeta ?? [])], [10]);
      assert.equal(await readFile(join(reader.path, "data"), "utf8"), "ten");
      await storage.closeReader(reader);
    });

    it("NewerReplacesOlder: the older snapshot goes once no reader holds it", async () => {
      const storage = await opened(h, await h.newLocation());
      await saveSnapshot(storage, 10, "ten");
      const old = await storage.open();
      assert.ok(old);
      await saveSnapshot(storage, 20, "twenty");
      assert.ok(existsSync(old.path), "a snapshot being read is kept");
      assert.equal(await readFile(join(old.path, "data"), "utf8"), "ten");
      const current = await storage.open();
      assert.equal(current?.loadMeta().lastIncludedIndex, 20);
      await storage.closeReader(old);
      assert.ok(!existsSync(old.path), "released once the last reader closed");
      assert.ok(current && existsSync(current.path));
      await storage.closeReader(current);
      assert.ok(existsSync(current.path), "the newest snapshot stays");
    });

    it("RejectedWriters: same index is EEXIST, failed writers and missing meta keep the old snapshot", async () => {
      const storage = await opened(h, await h.newLocation());
      await saveSnapshot(storage, 10, "ten");
      await rejectsWith(saveSnapshot(storage, 10, "again"), "EEXIST");
      const failed = await storage.create();
      failed.saveMeta(metaAt(30));
      failed.setError(new Error("state machine could not save"));
      await rejectsWith(storage.closeWriter(failed), "EIO");
      const noMeta = await storage.create();
      await rejectsWith(storage.closeWriter(noMeta), "EINVAL");
      const reader = await storage.open();
      assert.equal(reader?.loadMeta().lastIncludedIndex, 10);
      assert.equal(await readFile(join(reader!.path, "data"), "utf8"), "ten");
      await storage.closeReader(reader!);
    });

    it("OneWriter: a second create while one is open is EBUSY", async () => {
      const storage = await opened(h, await h.newLocation());
      const writer = await storage.create();
      await rejectsWith(storage.create(), "EBUSY");
      writer.setError(new Error("abandoned"));
      await rejectsWith(storage.closeWriter(writer), "EIO");
      await saveSnapshot(storage, 5, "five");
    });

    it("FileNames: names must stay inside the snapshot directory", async () => {
      const writer = await (await opened(h, await h.newLocation())).create();
      throwsWith(() => writer.addFile("../escape"), "EINVAL");
      throwsWith(() => writer.addFile("/etc/passwd"), "EINVAL");
      throwsWith(() => writer.addFile("__raft_snapshot_meta"), "EINVAL");
      writer.addFile("a");
      writer.removeFile("a");
      assert.deepEqual(writer.listFiles(), []);
    });

    it("CopyUri: empty without a file service, registered and released with one", async () => {
      const storage = await opened(h, await h.newLocation());
      await saveSnapshot(storage, 7, "seven");
      const plain = await storage.open();
      assert.equal(plain?.generateUriForCopy(), "");
      await storage.closeReader(plain!);
      let released = 0;
      storage.setCopyRegistrar(() => ({ uri: "remote://127.0.0.1:8100/42", release: () => void released++ }));
      const reader = await storage.open();
      assert.equal(reader?.generateUriForCopy(), "remote://127.0.0.1:8100/42");
      assert.equal(reader?.generateUriForCopy(), "remote://127.0.0.1:8100/42");
      await storage.closeReader(reader!);
      assert.equal(released, 1);
    });
  });
}

describe("local:// snapshot layout", () => {
  it("BraftLayout: snapshot_<20 digits> with __raft_snapshot_meta, no temp left", async () => {
    const dir = await harnesses[1]!.newLocation();
    const storage = await opened(harnesses[1]!, dir);
    await saveSnapshot(storage, 123, "x");
    assert.deepEqual((await readdir(dir)).sort(), ["snapshot_00000000000000000123", "tsraft_lock"]);
    await storage.close?.();
    assert.deepEqual(await readdir(dir), ["snapshot_00000000000000000123"], "the lock goes on close");
    const snap = join(dir, "snapshot_00000000000000000123");
    assert.deepEqual((await readdir(snap)).sort(), ["__raft_snapshot_meta", "data", "sub"]);
    const meta = await readFile(join(snap, "__raft_snapshot_meta"));
    assert.equal(meta.readUInt32BE(0), meta.length - 4);
    // LocalSnapshotPbMeta starts with field 1 (SnapshotMeta): last_included_index=123, term=2.
    assert.deepEqual([...meta.subarray(4, 10)], [0x0a, meta[5], 0x08, 123, 0x10, 2]);
  });

  it("InitCleanup: an unfinished temp dir and older snapshots are removed at init", async () => {
    const dir = await harnesses[1]!.newLocation();
    const storage = await opened(harnesses[1]!, dir);
    await saveSnapshot(storage, 5, "five");
    await mkdir(join(dir, "snapshot_00000000000000000003"));
    await mkdir(join(dir, "temp"));
    await writeFile(join(dir, "temp", "junk"), "j");
    await storage.close?.();
    const again = await opened(harnesses[1]!, dir);
    assert.deepEqual((await readdir(dir)).map((n) => basename(n)).sort(), [
      "snapshot_00000000000000000005",
      "tsraft_lock",
    ]);
    assert.equal((await again.open())?.loadMeta().lastIncludedIndex, 5);
  });

  it("CorruptMeta: a garbled __raft_snapshot_meta fails open with EIO naming it", async () => {
    const dir = await harnesses[1]!.newLocation();
    const storage = await opened(harnesses[1]!, dir);
    await saveSnapshot(storage, 8, "eight");
    await writeFile(
      join(dir, "snapshot_00000000000000000008", "__raft_snapshot_meta"),
      Buffer.from([0, 0, 0, 1]),
    );
    await storage.close?.();
    const err = await rejectsWith((await opened(harnesses[1]!, dir)).open(), "EIO");
    assert.match(err.message, /__raft_snapshot_meta/);
  });
});
