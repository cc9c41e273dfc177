/**
 * Quiescence past a dead follower (issue 19, docs/quiescence.md "A dead follower"): 3 processes
 * host 16 groups each; one process is killed (or cut off). Every group re-led on the two
 * survivors must go quiet again without it, as long as the live followers and the leader form a
 * quorum; when the process comes back, every group catches it up and goes quiet with it. Without
 * this, every group with a follower there heartbeats forever and thousands of such groups
 * saturate the survivors (the many-groups bench). Virtual time: timings are exact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerKey } from "../../src/core/types.js";
import type { SimCluster } from "../../src/testing/sim-cluster.js";
import type { SimGroup } from "../../src/testing/sim-group.js";
import { LeaseChecker } from "../../src/testing/sim-lease-checker.js";
import { bytes } from "./helpers.js";
import { ELECTION_TIMEOUT_MS, GROUPS, assertQuiet, countAppends, quietGroups } from "./quiet-groups.js";

/** How long after the process comes back every group must hold its whole log. */
const CATCH_UP_BOUND_MS = 2 * ELECTION_TIMEOUT_MS;

/** 3 x 16 groups, quiescence and leases on, each led, written once and quiet everywhere. */
async function quietLeasedGroups(seed: number): Promise<SimCluster> {
  const cluster = await quietGroups({
    seed,
    maxClockDriftMs: 200,
    flags: { raft_enable_leader_lease: true },
  });
  const checkers = cluster.groups.map((group) => new LeaseChecker(group));
  cluster.scheduler.afterEvent = () => {
    for (const checker of checkers) checker.check();
  };
  return cluster;
}

/** Runs until every group has a leader off `victim`. */
async function reElected(cluster: SimCluster, victim: PeerKey): Promise<void> {
  const led = (group: SimGroup): boolean => {
    const leader = group.leader();
    return leader !== undefined && leader !== victim;
  };
  const ok = await cluster.scheduler.runUntil(() => cluster.groups.every(led), 10_000);
  assert.ok(ok, `every group is led on the survivors: ${cluster.describe()}`);
}

/** After 4 election timeouts idle, every group is quiet on the survivors and sends nothing for 5 s. */
async function assertQuietWithout(cluster: SimCluster, victim: PeerKey): Promise<void> {
  await cluster.scheduler.runFor(4 * ELECTION_TIMEOUT_MS);
  const survivors = cluster.peers.filter((peer) => peer !== victim);
  assertQuiet(cluster, survivors);
  const appends = countAppends(cluster);
  await cluster.scheduler.runFor(5000);
  cluster.dropAppend = undefined;
  assert.equal(
    appends.count,
    0,
    "quiet groups send no AppendEntries for 5 s, not even probes to the dead peer",
  );
}

/** Each group's last index on `peer` equals its leader's, within `boundMs`; returns the ms it took. */
async function caughtUp(cluster: SimCluster, peer: PeerKey, boundMs: number): Promise<number> {
  const startMs = cluster.scheduler.nowMs;
  const matches = (group: SimGroup): boolean => {
    const leader = group.leader();
    if (leader === undefined || leader === peer) return false;
    const status = group.node(peer).getStatus();
    const leaderStatus = group.node(leader).getStatus();
    return (
      status.lastIndex === leaderStatus.lastIndex && status.committedIndex === leaderStatus.committedIndex
    );
  };
  const ok = await cluster.scheduler.runUntil(() => cluster.groups.every(matches), boundMs);
  assert.ok(ok, `every group caught ${peer} up within ${boundMs} ms: ${cluster.describe()}`);
  return cluster.scheduler.nowMs - startMs;
}

function terms(cluster: SimCluster): number[] {
  return cluster.groups.map((group) => {
    const leader = group.leader();
    assert.ok(leader !== undefined, `${group.groupId} has a leader`);
    return group.node(leader).term;
  });
}

async function finish(cluster: SimCluster): Promise<void> {
  cluster.scheduler.afterEvent = undefined;
  cluster.dropAppend = undefined;
  for (const group of cluster.groups) group.checkSafety();
  assert.deepEqual(cluster.violations, []);
  await cluster.shutdownAll();
  cluster.dispose();
}

test("QuiesceDeadFollowerKilled: after kill -9 of one process of 3, every group re-led on the survivors goes quiet again within 4 election timeouts (leaders and live followers) and sends no AppendEntries for 5 s", async () => {
  const cluster = await quietLeasedGroups(1951);
  try {
    const victim = cluster.busiestLeader() as PeerKey;
    cluster.crash(victim);
    await reElected(cluster, victim);
    await assertQuietWithout(cluster, victim);
  } finally {
    await finish(cluster);
  }
});

test("QuiesceDeadFollowerRestarted: the killed process restarts: every group catches it up within 2 election timeouts, without a new term, and goes quiet again with it", async (t) => {
  const cluster = await quietLeasedGroups(1952);
  try {
    const victim = cluster.busiestLeader() as PeerKey;
    cluster.crash(victim);
    await reElected(cluster, victim);
    await assertQuietWithout(cluster, victim);
    const before = terms(cluster);
    await cluster.start(victim);
    t.diagnostic(`caught up after ${await caughtUp(cluster, victim, CATCH_UP_BOUND_MS)} ms`);
    await cluster.scheduler.runFor(3000);
    assertQuiet(cluster, cluster.peers);
    assert.deepEqual(terms(cluster), before, "no group changed term");
  } finally {
    await finish(cluster);
  }
});

test("QuiesceDeadFollowerPartitionHeals: a process cut off goes quiet without it on the other side; after healing every group wakes once, catches it up within 2 election timeouts, keeps its term and leader, and goes quiet with it", async (t) => {
  const cluster = await quietLeasedGroups(1953);
  try {
    const victim = cluster.busiestLeader() as PeerKey;
    cluster.network.partition([[victim], cluster.peers.filter((peer) => peer !== victim)]);
    await reElected(cluster, victim);
    await assertQuietWithout(cluster, victim);
    const before = terms(cluster);
    const leaders = cluster.groups.map((group) => group.leader());
    cluster.network.heal();
    t.diagnostic(`caught up after ${await caughtUp(cluster, victim, CATCH_UP_BOUND_MS)} ms`);
    await cluster.scheduler.runFor(3000);
    assertQuiet(cluster, cluster.peers);
    assert.deepEqual(terms(cluster), before, "no group changed term after healing");
    assert.deepEqual(
      cluster.groups.map((group) => group.leader()),
      leaders,
      "every group kept its leader",
    );
    for (const group of cluster.groups) await group.applyAndWait(bytes(`healed ${group.groupId}`));
  } finally {
    await finish(cluster);
  }
});

test("QuiesceLeaderOutlivesFollower: after kill -9 of one process of 3, quiet groups led on the survivors stay quiet (their leaders never wake, send no AppendEntries) while the victim's groups re-elect; a write then wakes one", async () => {
  const cluster = await quietLeasedGroups(1954);
  try {
    const victim = cluster.busiestLeader() as PeerKey;
    const survivorLed = cluster.groups.filter((group) => group.leader() !== victim);
    assert.ok(survivorLed.length > 0 && survivorLed.length < GROUPS, "the survivors lead some groups");
    const leaders = new Map(survivorLed.map((group) => [group.groupId, group.leader() as PeerKey]));
    let woke = 0;
    const appendsOfSurvivorLeaders = { count: 0 };
    cluster.dropAppend = (from, request) => {
      if (leaders.get(request.groupId) === from) appendsOfSurvivorLeaders.count++;
      return false;
    };
    const previous = cluster.scheduler.afterEvent;
    cluster.scheduler.afterEvent = () => {
      previous?.();
      for (const group of survivorLed) {
        if (!group.node(leaders.get(group.groupId) as PeerKey).getStatus().quiet) woke++;
      }
    };
    cluster.crash(victim);
    await reElected(cluster, victim);
    await cluster.scheduler.runFor(3 * ELECTION_TIMEOUT_MS);
    cluster.scheduler.afterEvent = previous;
    cluster.dropAppend = undefined;
    assert.equal(woke, 0, "no leader on the survivors woke");
    assert.equal(appendsOfSurvivorLeaders.count, 0, "they sent no AppendEntries");
    const group = survivorLed[0] as SimGroup;
    await group.applyAndWait(bytes("wakes it"));
  } finally {
    await finish(cluster);
  }
});
