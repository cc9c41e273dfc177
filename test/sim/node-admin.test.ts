/** braft's operator calls on the simulator: read-only mode, read_committed_user_log, vote, leases. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    if (RaftError.is(error)) return error.code;
    throw error;
  }
  return "OK";
};

async function codeOfAsync(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (RaftError.is(error)) return error.code;
    throw error;
  }
}

test("ReadOnly: a read-only leader, or a read-only majority, refuses applies with EREADONLY", async () => {
  const cluster = new SimCluster({ seed: 41, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const node = cluster.node(leader);
  node.enterReadonlyMode();
  assert.equal(await codeOfAsync(cluster.settle(node.apply(bytes("x")))), "EREADONLY");
  node.leaveReadonlyMode();
  assert.equal(await codeOfAsync(cluster.settle(node.apply(bytes("y")))), "OK");
  const followers = cluster.peers.filter((peer) => peer !== leader);
  followers.forEach((peer) => cluster.node(peer).enterReadonlyMode());
  await cluster.scheduler.runUntil(() => node.readonly(), 2000);
  assert.equal(node.getStatus().readonly, true, "the leader learned its followers are read-only");
  assert.equal(await codeOfAsync(cluster.settle(node.apply(bytes("z")))), "EREADONLY");
  cluster.node(followers[0] as string).leaveReadonlyMode();
  await cluster.scheduler.runUntil(() => !node.readonly(), 2000);
  assert.equal(
    await codeOfAsync(cluster.settle(node.apply(bytes("w")))),
    "OK",
    "one read-only follower of two is no majority",
  );
  await cluster.shutdownAll();
});

test("ReadCommittedUserLog: skips configuration entries, with braft's errors at the edges", async () => {
  const cluster = new SimCluster({ seed: 42, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } });
  try {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    const node = cluster.node(leader);
    await cluster.scheduler.runUntil(() => node.getStatus().committedIndex >= 1, 2000);
    assert.equal(
      codeOf(() => node.readCommittedUserLog(1)),
      "ENOMOREUSERLOG",
      "only the configuration entry so far",
    );
    const { index } = await cluster.applyAndWait(bytes("first"));
    const log = node.readCommittedUserLog(1);
    assert.equal(log.index, index);
    assert.equal(new TextDecoder().decode(log.data), "first");
    assert.equal(
      codeOf(() => node.readCommittedUserLog(index + 5)),
      "EINVAL",
    );
    assert.equal(
      codeOf(() => node.readCommittedUserLog(0)),
      "EINVAL",
    );
    await cluster.applyAndWait(bytes("second"));
    await cluster.settle(node.snapshot());
    assert.equal(
      codeOf(() => node.readCommittedUserLog(1)),
      "ELOGDELETED",
    );
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
});

test("Vote and leases: vote() is refused off a follower; an isolated leader's lease runs out and the followers elect", async () => {
  const cluster = new SimCluster({ seed: 43, nodes: 3, flags: { raft_enable_leader_lease: true } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  assert.equal(cluster.node(leader).isLeaderLeaseValid(), true);
  const followers = cluster.peers.filter((peer) => peer !== leader);
  assert.ok(followers.every((peer) => !cluster.node(peer).isLeaderLeaseValid()));
  assert.throws(
    () => cluster.node(leader).vote(300),
    (e: unknown) => RaftError.is(e) && e.code === "EPERM",
  );
  for (const peer of cluster.peers) cluster.node(peer).resetElectionTimeoutMs(300);
  cluster.network.partition([[leader], followers]);
  await cluster.scheduler.runFor(400);
  assert.equal(cluster.node(leader).isLeaderLeaseValid(), false, "the isolated leader's lease ran out");
  const elected = await cluster.scheduler.runUntil(
    () => followers.some((peer) => cluster.node(peer).isLeader()),
    2000,
  );
  assert.ok(elected, "the followers elected a new leader once their lease ran out");
  await cluster.shutdownAll();
});
