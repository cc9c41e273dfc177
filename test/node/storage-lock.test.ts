/**
 * Two nodes on one data directory, in one process: the second node's init fails with EBUSY naming
 * the directory and the holder, the lock goes with shutdown and with a failed init, and a node
 * refuses the data of another group or peer (recorded in each directory at first start).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { RaftError, RaftNode, Status, type NodeOptions, type StateMachine } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { nodeUris, removeDir, tempDir } from "../storage/helpers.js";
import { pollUntil } from "../support/poll.js";

const PEER = "127.0.0.1:9401:0";
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

async function dataDir(): Promise<string> {
  const dir = await tempDir("tsraft-node-lock-");
  dirs.push(dir);
  return dir;
}

/** Takes (empty) snapshots but cannot load one. */
const fsm: StateMachine = {
  onApply: (iter) => void [...iter],
  onSnapshotSave: (_writer, done) => done.run(Status.OK()),
};

function optionsFor(dir: string, peer: string, extra: Partial<NodeOptions> = {}): NodeOptions {
  return {
    fsm,
    server: new InProcessNetwork().host(peer),
    initialConf: peer,
    electionTimeoutMs: 100,
    ...nodeUris(dir),
    ...extra,
  };
}

async function started(group: string, peer: string, options: NodeOptions): Promise<RaftNode> {
  const node = new RaftNode(group, peer);
  await node.init(options);
  return node;
}

/** init must reject with `code`; the refused node is shut down either way. */
async function refused(group: string, peer: string, options: NodeOptions, code: string): Promise<RaftError> {
  const node = new RaftNode(group, peer);
  try {
    return await node.init(options).then(
      () => assert.fail(`init of ${group}/${peer} succeeded`),
      (error: unknown) => {
        assert.ok(RaftError.is(error) && error.code === code, `expected ${code}, got ${String(error)}`);
        return error;
      },
    );
  } finally {
    await node.shutdown();
  }
}

test("TwoNodesOneDirectory: the second node's init fails with EBUSY naming the directory and the holder", async () => {
  const dir = await dataDir();
  const first = await started("Counter", PEER, optionsFor(dir, PEER));
  try {
    const other = "127.0.0.1:9402:0";
    const err = await refused("Counter", other, optionsFor(dir, other), "EBUSY");
    assert.match(err.message, new RegExp(`storage directory ${dir}/\\w+ is already open in this process`));
    assert.ok(err.message.includes(`pid ${process.pid} `), err.message);
    assert.ok(err.message.includes(`group "Counter", peer ${PEER}`), err.message);
    await pollUntil("a leader", () => first.isLeader());
    await first.apply(Uint8Array.of(1)); // the holder is unharmed
  } finally {
    await first.shutdown();
  }
  const again = await started("Counter", PEER, optionsFor(dir, PEER));
  await again.shutdown();
});

test("LockFiles: each directory holds tsraft_lock while the node runs and keeps tsraft_owner", async () => {
  const dir = await dataDir();
  const node = await started("Counter", PEER, optionsFor(dir, PEER));
  const kinds = ["log", "raft_meta", "snapshot"];
  try {
    for (const kind of kinds) {
      const names = await readdir(join(dir, kind));
      assert.ok(
        names.includes("tsraft_lock") && names.includes("tsraft_owner"),
        `${kind}: ${names.join(",")}`,
      );
      const owner = JSON.parse(await readFile(join(dir, kind, "tsraft_owner"), "utf8")) as unknown;
      assert.deepEqual(owner, { group: "Counter", peer: PEER });
    }
  } finally {
    await node.shutdown();
  }
  for (const kind of kinds) assert.ok(!existsSync(join(dir, kind, "tsraft_lock")), `${kind} lock released`);
});

test("InitFailureReleasesTheLock: a node whose init failed leaves the directory free", async () => {
  const dir = await dataDir();
  const node = await started("Counter", PEER, optionsFor(dir, PEER));
  await pollUntil("a leader", () => node.isLeader());
  await node.apply(Uint8Array.of(1));
  await node.snapshot();
  await node.shutdown();
  // A snapshot exists but this state machine cannot load it: init fails after locking.
  await refused("Counter", PEER, optionsFor(dir, PEER), "EINVAL");
  const loads: number[] = [];
  const loading: StateMachine = { ...fsm, onSnapshotLoad: () => void loads.push(1) };
  const retried = await started("Counter", PEER, optionsFor(dir, PEER, { fsm: loading }));
  await retried.shutdown();
  assert.equal(loads.length, 1);
});

test("OtherGroupsData: a node of another group is refused with EINVAL naming both groups", async () => {
  const dir = await dataDir();
  await (await started("Counter", PEER, optionsFor(dir, PEER))).shutdown();
  const err = await refused("Atomic", PEER, optionsFor(dir, PEER), "EINVAL");
  assert.match(err.message, /holds the data of group "Counter".*not of group "Atomic"/s);
  await (await started("Counter", PEER, optionsFor(dir, PEER))).shutdown();
});

test("OtherPeersData: a node of another peer is refused with EINVAL saying why", async () => {
  const dir = await dataDir();
  await (await started("Counter", PEER, optionsFor(dir, PEER))).shutdown();
  const other = "127.0.0.1:9403:0";
  const err = await refused("Counter", other, optionsFor(dir, other), "EINVAL");
  assert.match(err.message, new RegExp(`holds the data of peer ${PEER}.*count as two voters`, "s"));
});

test("OneDirectoryForAll: a node may keep its log, meta and snapshots in one directory", async () => {
  const dir = await dataDir();
  const uri = `local://${dir}/all`;
  const options = optionsFor(dir, PEER, { logUri: uri, raftMetaUri: uri, snapshotUri: uri });
  const node = await started("Counter", PEER, options);
  await node.shutdown();
  await (await started("Counter", PEER, options)).shutdown();
});
