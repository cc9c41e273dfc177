/**
 * braft's merged and mixed raft meta storages (`local-merged://`, `local-mixed://`): one file for
 * many nodes of a process, and the double-writing form that moves a node between the two.
 */
import assert from "node:assert/strict";
import { appendFile, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RaftNode } from "../../src/node/raft-node.js";
import type { RaftMetaStorage } from "../../src/storage/interfaces.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { pollUntil } from "../support/poll.js";
import { LocalRaftMetaStorage } from "../../src/storage/local/local-meta-storage.js";
import { MERGED_META_FILE, MergedMetaFile } from "../../src/storage/local/merged-meta-file.js";
import { resolveLocalOptions } from "../../src/storage/local/options.js";
import { MergedRaftMetaStorage, MixedRaftMetaStorage } from "../../src/storage/local/merged-meta-storage.js";
import { createRaftMetaStorage } from "../../src/storage/registry.js";
import { rejectsWith, removeDir, tempDir } from "./helpers.js";

const owner = (group: string, peer = "127.0.0.1:8100:0") => ({ owner: { group, peer } });

async function opened(storage: RaftMetaStorage): Promise<RaftMetaStorage> {
  await storage.init();
  return storage;
}

test("LocalMerged: many groups share one file; each reads back its own term and vote after a reopen", async () => {
  const dir = await tempDir();
  try {
    const nodes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => opened(new MergedRaftMetaStorage(dir, owner(`g${i}`)))),
    );
    await Promise.all(
      nodes.map((node, i) => node.setTermAndVotedFor({ term: i + 1, votedFor: `10.0.0.${i}:1:0` })),
    );
    await Promise.all(nodes.map((node) => node.close()));
    const again = await Promise.all(
      Array.from({ length: 50 }, (_, i) => opened(new MergedRaftMetaStorage(dir, owner(`g${i}`)))),
    );
    again.forEach((node, i) =>
      assert.deepEqual(node.getTermAndVotedFor(), { term: i + 1, votedFor: `10.0.0.${i}:1:0` }),
    );
    const fresh = await opened(new MergedRaftMetaStorage(dir, owner("new")));
    assert.deepEqual(fresh.getTermAndVotedFor(), { term: 0, votedFor: "" }, "a new node starts at term 0");
    await Promise.all([...again, fresh].map((node) => node.close()));
  } finally {
    await removeDir(dir);
  }
});

test("LocalMerged: a torn last record is cut off; damage before the end refuses to open", async () => {
  const dir = await tempDir();
  try {
    const node = await opened(new MergedRaftMetaStorage(dir, owner("g")));
    await node.setTermAndVotedFor({ term: 3, votedFor: "1.2.3.4:5:0" });
    await node.setTermAndVotedFor({ term: 4, votedFor: "" });
    await node.close();
    const file = join(dir, MERGED_META_FILE);
    await appendFile(file, Buffer.from([0, 0, 0, 40, 1, 2])); // a record a crash cut short
    const reopened = await opened(new MergedRaftMetaStorage(dir, owner("g")));
    assert.deepEqual(reopened.getTermAndVotedFor(), { term: 4, votedFor: "" });
    await reopened.close();
    const bytes = await readFile(file);
    assert.equal((await stat(file)).size, bytes.length);
    bytes.writeUInt8(bytes[10]! ^ 0xff, 10); // inside the first record, followed by a good one
    await writeFile(file, bytes);
    const broken = new MergedRaftMetaStorage(dir, owner("g"));
    await rejectsWith(broken.init(), "EIO");
    await broken.close();
  } finally {
    await removeDir(dir);
  }
});

test("LocalMerged: the file is compacted once mostly stale, and keeps every node's last state", async () => {
  const dir = await tempDir();
  try {
    // Without fsync (raft_sync off): this test is about the file's size, not durability.
    const unsynced = (i: number) => ({ ...owner(`g${i}`), raft_sync: false });
    const nodes = await Promise.all(
      [0, 1, 2].map((i) => opened(new MergedRaftMetaStorage(dir, unsynced(i)))),
    );
    for (let term = 1; term <= 1500; term++) {
      await Promise.all(nodes.map((node) => node.setTermAndVotedFor({ term, votedFor: "" })));
    }
    assert.ok((await stat(join(dir, MERGED_META_FILE))).size < 64 * 1024 * 2, "the file was compacted");
    await Promise.all(nodes.map((node) => node.close()));
    for (const i of [0, 1, 2]) {
      const node = await opened(new MergedRaftMetaStorage(dir, owner(`g${i}`)));
      assert.deepEqual(node.getTermAndVotedFor(), { term: 1500, votedFor: "" });
      await node.close();
    }
  } finally {
    await removeDir(dir);
  }
});

test("LocalMixed: upgrade local -> mixed -> merged and back keeps the newest term and vote", async () => {
  const dir = await tempDir();
  const single = join(dir, "node1");
  const merged = join(dir, "merged");
  try {
    const local = await opened(new LocalRaftMetaStorage(single, owner("g")));
    await local.setTermAndVotedFor({ term: 7, votedFor: "1.1.1.1:1:0" });
    await local.close();
    // Upgrade: the mixed form copies the single file's newer state into the merged file.
    const mixed = await opened(
      createRaftMetaStorage(`local-mixed://merged_path=${merged}&&single_path=${single}`, owner("g")),
    );
    assert.deepEqual(mixed.getTermAndVotedFor(), { term: 7, votedFor: "1.1.1.1:1:0" });
    await mixed.close();
    const onlyMerged = await opened(createRaftMetaStorage(`local-merged://${merged}`, owner("g")));
    assert.deepEqual(onlyMerged.getTermAndVotedFor(), { term: 7, votedFor: "1.1.1.1:1:0" });
    await onlyMerged.setTermAndVotedFor({ term: 9, votedFor: "" });
    await onlyMerged.close();
    // Downgrade: the merged file is newer now; the mixed form brings the single file up to it.
    const back = await opened(new MixedRaftMetaStorage(single, merged, owner("g")));
    assert.deepEqual(back.getTermAndVotedFor(), { term: 9, votedFor: "" });
    await back.close();
    const onlySingle = await opened(new LocalRaftMetaStorage(single, owner("g")));
    assert.deepEqual(onlySingle.getTermAndVotedFor(), { term: 9, votedFor: "" });
    await onlySingle.close();
  } finally {
    await removeDir(dir);
  }
});

test("LocalMixed: two different votes in one term refuse to open; a bad uri or a missing node is EINVAL", async () => {
  const dir = await tempDir();
  const single = join(dir, "node1");
  const merged = join(dir, "merged");
  try {
    const local = await opened(new LocalRaftMetaStorage(single, owner("g")));
    await local.setTermAndVotedFor({ term: 5, votedFor: "1.1.1.1:1:0" });
    await local.close();
    const kv = await opened(new MergedRaftMetaStorage(merged, owner("g")));
    await kv.setTermAndVotedFor({ term: 5, votedFor: "2.2.2.2:2:0" });
    await kv.close();
    const mixed = new MixedRaftMetaStorage(single, merged, owner("g"));
    await rejectsWith(mixed.init(), "EINVAL");
    assert.throws(() => createRaftMetaStorage(`local-mixed://${merged}`, owner("g")), /merged_path=/);
    assert.throws(() => createRaftMetaStorage(`local-merged://${merged}`), /needs the node's group and peer/);
  } finally {
    await removeDir(dir);
  }
});

test("LocalMergedNodes: two groups of one process keep their terms in one merged file across a restart", async () => {
  const dir = await tempDir();
  const network = new InProcessNetwork();
  const start = async (group: string): Promise<RaftNode> => {
    const node = new RaftNode(group, "127.0.0.1:9311:0");
    await node.init({
      fsm: { onApply: () => undefined },
      server: network.host("127.0.0.1:9311"),
      initialConf: "127.0.0.1:9311:0",
      logUri: `local://${join(dir, group, "log")}`,
      raftMetaUri: `local-merged://${join(dir, "meta")}`,
      electionTimeoutMs: 100,
    });
    return node;
  };
  try {
    const first = await Promise.all(["ga", "gb"].map(start));
    await pollUntil("both lead", () => first.every((node) => node.isLeader()));
    const terms = first.map((node) => node.term);
    await Promise.all(first.map((node) => node.shutdown()));
    for (const [i, group] of ["ga", "gb"].entries()) {
      const meta = await opened(
        new MergedRaftMetaStorage(join(dir, "meta"), owner(group, "127.0.0.1:9311:0")),
      );
      assert.equal(meta.getTermAndVotedFor().term, terms[i], `${group}'s term is in the merged file`);
      await meta.close();
    }
    const again = await Promise.all(["ga", "gb"].map(start));
    again.forEach((node, i) => assert.ok(node.term >= (terms[i] as number), "restarted from that term"));
    await Promise.all(again.map((node) => node.shutdown()));
  } finally {
    await removeDir(dir);
  }
});

test("raft_meta_write_batch: concurrent votes of many nodes share a write, at most raft_meta_write_batch each; 4096 by default", async () => {
  const writesFor = async (batch: number | undefined, votes = 10): Promise<number> => {
    const dir = await tempDir();
    try {
      const options = resolveLocalOptions(batch === undefined ? {} : { raft_meta_write_batch: batch });
      const file = new MergedMetaFile(dir, { ...options, owner: {} });
      await file.open();
      await Promise.all(
        Array.from({ length: votes }, (_, i) => file.set(`g${i}`, { term: 1, votedFor: "" })),
      );
      await file.close();
      return file.writes;
    } finally {
      await removeDir(dir);
    }
  };
  assert.equal(await writesFor(undefined, 4096), 1, "4096 votes, default batch: one write");
  assert.equal(await writesFor(undefined, 4097), 2, "4097 votes, default batch: two writes");
  assert.equal(await writesFor(2), 5, "batches of 2: five writes");
});
