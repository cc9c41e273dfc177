/**
 * The files a real braft counter_server wrote (test/rpc/fixtures/braft/disk, captured by
 * test/interop/capture-disk.ts from braft v1.1.2-119: a 3-node group, 1 KiB segments, 40 writes, a
 * snapshot, 10 more writes), read by tsraft's local:// storage: a tsraft node restarted on braft's
 * data directory reads the same log, vote and snapshot.
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { decodeProtoBufFile } from "../../examples/counter/protobuf-file.js";
import { EntryType, type LogEntry } from "../../src/core/types.js";
import { LocalRaftMetaStorage } from "../../src/storage/local/local-meta-storage.js";
import { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";

const FIXTURE = fileURLToPath(new URL("../../../test/rpc/fixtures/braft/disk/", import.meta.url));

interface Capture {
  readonly peer: string;
  readonly conf: string;
  readonly writes: number;
  readonly snapshotAfterWrites: number;
}

describe("braft's data directory, read by local:// storage", () => {
  let dir = "";
  let capture: Capture;
  let confPeers: string[];

  before(async () => {
    // The storages may repair or rewrite files: they work on a copy, never on the fixture.
    dir = await mkdtemp(join(tmpdir(), "tsraft-braft-disk-"));
    await cp(FIXTURE, dir, { recursive: true });
    capture = JSON.parse(await readFile(join(dir, "capture.json"), "utf8")) as Capture;
    confPeers = capture.conf.split(",").sort();
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it("BraftLog: every segment reads, the first entry is braft's configuration in canonical form", async () => {
    const storage = new SegmentLogStorage(join(dir, "log"));
    const confs: LogEntry[] = [];
    await storage.init((entry) => confs.push(entry));
    try {
      assert.equal(storage.firstLogIndex(), 1);
      assert.equal(storage.tornTail, undefined, "braft's in-progress segment is not taken for torn");
      const entries: LogEntry[] = [];
      for (let i = 1; i <= storage.lastLogIndex(); i++) entries.push(storage.getEntry(i)!);
      const data = entries.filter((e) => e.type === EntryType.DATA);
      assert.equal(data.length, capture.writes);
      const first = entries[0]!;
      assert.equal(first.type, EntryType.CONFIGURATION);
      assert.deepEqual([...(first.conf?.peers ?? [])].sort(), confPeers);
      assert.deepEqual(
        confs.map((c) => c.index),
        entries.filter((e) => e.type === EntryType.CONFIGURATION).map((e) => e.index),
      );
      for (const [i, entry] of entries.entries()) {
        assert.equal(entry.index, i + 1);
        assert.ok(entry.term >= 1 && entry.term <= storage.getTerm(storage.lastLogIndex()));
      }
    } finally {
      await storage.close();
    }
  });

  it("BraftRaftMeta: term and the vote braft wrote as ip:port:idx:role read canonical", async () => {
    const meta = new LocalRaftMetaStorage(join(dir, "raft_meta"));
    await meta.init();
    const state = meta.getTermAndVotedFor();
    await meta.close();
    assert.ok(state.term >= 1);
    assert.ok(confPeers.includes(state.votedFor), `the vote names a member: ${state.votedFor}`);
  });

  it("BraftSnapshot: __raft_snapshot_meta reads with canonical peers, its data file is the counter's", async () => {
    const storage = new LocalSnapshotStorage(join(dir, "snapshot"));
    await storage.init();
    const reader = await storage.open();
    assert.ok(reader !== undefined, "braft's snapshot is found");
    try {
      const meta = reader.loadMeta();
      assert.equal(meta.lastIncludedIndex, capture.snapshotAfterWrites + 1);
      assert.deepEqual([...meta.peers].sort(), confPeers);
      assert.deepEqual(reader.listFiles(), ["data"]);
      // braft's counter example: ProtoBufFile of a message whose field 1 is the value (40 = 0x28).
      const message = decodeProtoBufFile(await readFile(join(reader.path, "data")));
      assert.deepEqual([...message], [0x08, capture.snapshotAfterWrites]);
    } finally {
      await storage.closeReader(reader);
    }
  });
});
