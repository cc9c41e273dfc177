/**
 * Linearizable reads (ReadIndex, beyond braft) on the simulator. The random runs check every read
 * against the writes acknowledged before it; these scenarios pin the edges.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, rejectionOf } from "./helpers.js";

test("ReadIndex: a read on the leader sees every write acknowledged before it", async () => {
  const cluster = new SimCluster({ seed: 31, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  for (let i = 0; i < 5; i++) {
    const { index } = await cluster.applyAndWait(bytes(`w${i}`));
    const read = await cluster.settle(cluster.node(leader).readIndex());
    assert.ok(read.index >= index, `read at ${read.index} sees write ${index}`);
    assert.ok(cluster.node(leader).getStatus().appliedIndex >= read.index, "applied before it resolved");
  }
  await cluster.shutdownAll();
});

test("ReadIndex: a partitioned leader serves no read, even while it still believes it leads", async () => {
  const cluster = new SimCluster({ seed: 32, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("before"));
  cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
  const stale = cluster.node(leader).readIndex({ timeoutMs: 500 });
  const error = await rejectionOf(cluster.settle(stale));
  assert.ok(["ERAFTTIMEDOUT", "EPERM"].includes(error.code), error.code);
  await cluster.shutdownAll();
});

test("ReadIndex on a follower: the leader confirms the index, the follower waits for its own apply", async () => {
  const cluster = new SimCluster({ seed: 33, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const follower = cluster.peers.find((peer) => peer !== leader) as string;
  for (let i = 0; i < 5; i++) {
    const { index } = await cluster.applyAndWait(bytes(`w${i}`));
    const read = await cluster.settle(cluster.node(follower).readIndex());
    assert.ok(read.index >= index, `follower read at ${read.index} sees write ${index}`);
    assert.ok(
      cluster.node(follower).getStatus().appliedIndex >= read.index,
      "applied locally before it resolved",
    );
  }
  cluster.network.partition([[follower], cluster.peers.filter((peer) => peer !== follower)]);
  const cut = await rejectionOf(cluster.settle(cluster.node(follower).readIndex({ timeoutMs: 500 })));
  assert.ok(["ERAFTTIMEDOUT", "EPERM"].includes(cut.code), cut.code);
  await cluster.shutdownAll();
});

test("LeaseRead: with the leader lease on, a read needs no round trip", async () => {
  for (const lease of [false, true]) {
    const cluster = new SimCluster({ seed: 34, nodes: 3, flags: { raft_enable_leader_lease: lease } });
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    await cluster.applyAndWait(bytes("x"));
    await cluster.scheduler.runFor(200);
    const started = cluster.scheduler.nowMs;
    await cluster.settle(cluster.node(leader).readIndex());
    const elapsed = cluster.scheduler.nowMs - started;
    if (lease) assert.equal(elapsed, 0, "served from the lease");
    else assert.ok(elapsed > 0, "confirmed by a heartbeat round");
    await cluster.shutdownAll();
  }
});
