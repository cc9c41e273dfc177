/**
 * Quiescent groups on the simulator (docs/quiescence.md): an idle group stops heartbeating, a
 * write wakes it without extra delay, and a quiet group whose leader's process dies or is cut off
 * elects a new leader within the usual election timeouts. Virtual time: timings are exact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerKey } from "../../src/core/types.js";
import { SimCluster, type SimClusterOptions } from "../../src/testing/sim-cluster.js";
import type { SimGroup } from "../../src/testing/sim-group.js";
import { bytes, converge, withCluster } from "./helpers.js";
import { countAppends } from "./quiet-groups.js";

const ELECTION_TIMEOUT_MS = 1000;

/** A three-node cluster with a leader, one write applied everywhere, then idle for 3 s. */
async function quietCluster(options: Partial<SimClusterOptions> & { seed: number }): Promise<SimCluster> {
  const cluster = new SimCluster({ nodes: 3, quiescence: true, ...options });
  await cluster.startAll();
  assert.ok((await cluster.waitForLeader()) !== undefined, "a leader is elected");
  await cluster.applyAndWait(bytes("before"));
  await cluster.scheduler.runFor(3000);
  return cluster;
}

/** Runs until a leader of a term above `term` exists; returns how long that took (virtual ms). */
async function timeToNewLeader(cluster: SimCluster, term: number): Promise<number> {
  const startMs = cluster.scheduler.nowMs;
  const elected = await cluster.scheduler.runUntil(() => {
    const leader = cluster.leader();
    return leader !== undefined && cluster.node(leader).term > term;
  }, 10_000);
  assert.ok(elected, `a new leader was elected: ${cluster.describe()}`);
  return cluster.scheduler.nowMs - startMs;
}

test("QuiesceIdleGroup: an idle group sends no AppendEntries at all", async () => {
  const cluster = await quietCluster({ seed: 1901 });
  try {
    const appends = countAppends(cluster);
    await cluster.scheduler.runFor(10_000);
    assert.equal(appends.count, 0, `no heartbeat in 10 s of idleness: ${cluster.describe()}`);
    const leader = cluster.leader();
    assert.ok(leader !== undefined, "the quiet leader still leads");
    for (const peer of cluster.peers) assert.ok(cluster.node(peer).getStatus().quiet, `${peer} is quiet`);
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuiesceWakeOnWrite: a write on a quiet group commits within 1 ms of a busy one's time (disk latency draws differ)", async () => {
  const cluster = await quietCluster({ seed: 1902, network: { minDelayMs: 5, maxDelayMs: 5 } });
  try {
    const startMs = cluster.scheduler.nowMs;
    await cluster.applyAndWait(bytes("wake"));
    const quietWriteMs = cluster.scheduler.nowMs - startMs;
    const busyStartMs = cluster.scheduler.nowMs;
    await cluster.applyAndWait(bytes("busy"));
    const busyWriteMs = cluster.scheduler.nowMs - busyStartMs;
    assert.ok(
      quietWriteMs <= busyWriteMs + 1,
      `quiet write ${quietWriteMs} ms, busy write ${busyWriteMs} ms`,
    );
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuietGroupWriteCost: a write on a quiet group sends one append per follower and no heartbeat; every node is quiet again within two heartbeat intervals and stays quiet for an election timeout", async () => {
  const cluster = await quietCluster({ seed: 1903, network: { minDelayMs: 5, maxDelayMs: 5 } });
  try {
    const appends = countAppends(cluster);
    await cluster.applyAndWait(bytes("wake"));
    await cluster.scheduler.runFor((2 * ELECTION_TIMEOUT_MS) / 10);
    for (const peer of cluster.peers) assert.ok(cluster.node(peer).getStatus().quiet, `${peer} is quiet`);
    // A follower that asked its leader to wake, after the leader quiesced, would wake it again.
    await cluster.scheduler.runFor(ELECTION_TIMEOUT_MS);
    for (const peer of cluster.peers) assert.ok(cluster.node(peer).getStatus().quiet, `${peer} stays quiet`);
    assert.equal(appends.count, 2, `AppendEntries for one write on a quiet group: ${cluster.describe()}`);
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuietLeaderKilled: the followers of a killed quiet leader elect within two election timeouts", async () => {
  const cluster = await quietCluster({ seed: 1903 });
  try {
    const leader = cluster.leader() as PeerKey;
    const term = cluster.node(leader).term;
    cluster.crash(leader);
    const electedMs = await timeToNewLeader(cluster, term);
    assert.ok(electedMs <= 2 * ELECTION_TIMEOUT_MS, `elected ${electedMs} ms after the kill`);
    await cluster.applyAndWait(bytes("after"));
    await cluster.start(leader);
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuietLeaderPartitioned: a quiet leader cut off from both followers is replaced; after healing one leader remains", async () => {
  const cluster = await quietCluster({ seed: 1904 });
  try {
    const leader = cluster.leader() as PeerKey;
    const term = cluster.node(leader).term;
    const others = cluster.peers.filter((peer) => peer !== leader);
    cluster.network.partition([[leader], others]);
    await timeToNewLeader(cluster, term);
    await cluster.applyAndWait(bytes("during"));
    cluster.network.heal();
    await cluster.scheduler.runFor(3000);
    const leaders = cluster.running().filter((peer) => cluster.node(peer).isLeader());
    assert.equal(leaders.length, 1, `one leader after healing: ${cluster.describe()}`);
    await cluster.applyAndWait(bytes("healed"));
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuietFollowerRestarted: a follower killed and restarted while quiet catches up on the next write", async () => {
  const cluster = await quietCluster({ seed: 1905 });
  try {
    const leader = cluster.leader() as PeerKey;
    const follower = cluster.peers.find((peer) => peer !== leader) as PeerKey;
    cluster.crash(follower);
    await cluster.scheduler.runFor(500);
    await cluster.start(follower);
    await cluster.scheduler.runFor(5000);
    assert.equal(cluster.leader(), leader, `the restart did not disturb the leader: ${cluster.describe()}`);
    await cluster.applyAndWait(bytes("after"));
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

test("QuiesceWithBraftPeer: a group with a peer that answers the LivenessService with ENOSYS never quiesces", async () => {
  const braft = "10.0.0.3:8100:0";
  await withCluster({ seed: 1906, nodes: 3, quiescence: (peer) => peer !== braft }, async (cluster) => {
    await cluster.startAll();
    await cluster.waitForLeader();
    await cluster.applyAndWait(bytes("x"));
    await cluster.scheduler.runFor(3000);
    const appends = countAppends(cluster);
    await cluster.scheduler.runFor(1000);
    assert.ok(appends.count >= 10, `heartbeats go on (${appends.count} appends in 1 s)`);
    await converge(cluster);
  });
});

test("QuietLeaderKilledOneRound: 40-90 ms message delays, 16 groups: the followers of every group whose quiet leader's process died elect in one round (term + 1), all within 2.5 election timeouts", async () => {
  // Before one follower per group was chosen to campaign first, both woke in the same liveness
  // tick and campaigned within one random delay of each other: on this seed one group in eight
  // took a second round, 3.45 election timeouts after the kill.
  const cluster = new SimCluster({
    seed: 1906,
    nodes: 3,
    groups: 16,
    quiescence: true,
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    network: { minDelayMs: 40, maxDelayMs: 90 },
  });
  try {
    await cluster.startAll();
    const led = await cluster.scheduler.runUntil(
      () => cluster.groups.every((g) => g.leader() !== undefined),
      30_000,
    );
    assert.ok(led, "every group elected a leader");
    for (const group of cluster.groups) await group.applyAndWait(bytes(`before ${group.groupId}`), 10_000);
    await cluster.scheduler.runFor(5000);
    const victim = cluster.busiestLeader() as PeerKey;
    const orphans = cluster.groups.filter((group) => group.leader() === victim);
    assert.ok(
      orphans.every((group) => group.node(victim).getStatus().quiet),
      "the victim's groups are quiet",
    );
    const terms = orphans.map((group) => group.node(victim).term);
    const killedAtMs = cluster.scheduler.nowMs;
    cluster.crash(victim);
    const boundMs = 2.5 * ELECTION_TIMEOUT_MS;
    const reelected = await cluster.scheduler.runUntil(
      () => orphans.every((group) => group.leader() !== undefined && group.leader() !== victim),
      boundMs,
    );
    assert.ok(reelected, `every group re-led within ${boundMs} ms: ${cluster.describe()}`);
    assertOneRound(orphans, terms);
    assert.ok(cluster.scheduler.nowMs - killedAtMs <= boundMs);
    for (const group of cluster.groups) group.checkSafety();
    assert.deepEqual(cluster.violations, []);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

/** Each group's new leader is one term past the old one: one election round, no split vote. */
function assertOneRound(groups: readonly SimGroup[], oldTerms: readonly number[]): void {
  const rounds = groups.map(
    (group, i) => group.node(group.leader() as PeerKey).term - (oldTerms[i] as number),
  );
  assert.deepEqual(
    rounds,
    groups.map(() => 1),
    "one election round per group",
  );
}

test("QuietLeaderKilledCost: after a quiet leader's process dies, the new leader sends its live follower one AppendEntries (its first entry) and no heartbeat; both are quiet within two heartbeat intervals of the election and stay quiet for an election timeout", async () => {
  const cluster = await quietCluster({ seed: 1906, network: { minDelayMs: 5, maxDelayMs: 5 } });
  try {
    const dead = cluster.leader() as PeerKey;
    const term = cluster.node(dead).term;
    cluster.crash(dead);
    const toLive: string[] = [];
    cluster.dropAppend = (from, request) => {
      if (request.peerId !== dead)
        toLive.push(`${from}->${request.peerId} prev=${request.prevLogIndex} n=${request.entries.length}`);
      return false;
    };
    await timeToNewLeader(cluster, term);
    await cluster.scheduler.runFor((2 * ELECTION_TIMEOUT_MS) / 10);
    for (const peer of cluster.running())
      assert.ok(
        cluster.node(peer).getStatus().quiet,
        `${peer} is quiet: ${toLive.join(", ")} at ${cluster.scheduler.nowMs}`,
      );
    await cluster.scheduler.runFor(ELECTION_TIMEOUT_MS);
    for (const peer of cluster.running())
      assert.ok(cluster.node(peer).getStatus().quiet, `${peer} stays quiet`);
    assert.equal(toLive.length, 1, `AppendEntries to the live follower: ${toLive.join(", ")}`);
    await cluster.start(dead);
    await converge(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});
