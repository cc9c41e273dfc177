/**
 * Many groups per simulated process (issue 19): 3 processes host 16 groups each, sharing one
 * network endpoint, one process liveness and one machine per process, so a kill, a cut or a
 * pause of one process hits every group on it at once. Quiet groups must notice through the
 * liveness per process pair alone, elect within two election timeouts and take writes again,
 * and leases and ReadIndex must stay correct in every group. Virtual time: timings are exact.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerKey } from "../../src/core/types.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import type { SimGroup } from "../../src/testing/sim-group.js";
import { LeaseChecker } from "../../src/testing/sim-lease-checker.js";
import { runSimulation } from "../../src/testing/sim-run.js";
import { bytes } from "./helpers.js";
import { ELECTION_TIMEOUT_MS, GROUPS, quietGroups } from "./quiet-groups.js";

/** The clock-drift allowance of the lease scenarios: voters wait timeout + drift after last contact. */
const DRIFT_MS = 200;

/** A group whose leader sat on the process hit, with the term it led. */
interface Orphan {
  readonly group: SimGroup;
  readonly term: number;
}

/** The process leading the most groups, and the groups it leads. */
function busiest(cluster: SimCluster): { victim: PeerKey; orphans: Orphan[] } {
  const victim = cluster.busiestLeader();
  assert.ok(victim !== undefined, "some process leads");
  const orphans = cluster.groups
    .filter((group) => group.leader() === victim)
    .map((group) => ({ group, term: group.node(victim).term }));
  assert.ok(orphans.length >= GROUPS / 3, `${victim} leads ${orphans.length} of ${GROUPS} groups`);
  return { victim, orphans };
}

/**
 * Runs until every orphaned group has a leader of a newer term on another process; returns, per
 * group, the virtual ms that took (Infinity when it did not happen within 10 s).
 */
async function electionTimes(
  cluster: SimCluster,
  victim: PeerKey,
  orphans: readonly Orphan[],
): Promise<number[]> {
  const startMs = cluster.scheduler.nowMs;
  const times = new Map<SimGroup, number>();
  const replaced = ({ group, term }: Orphan): boolean => {
    const leader = group.leader();
    return leader !== undefined && leader !== victim && group.node(leader).term > term;
  };
  await cluster.scheduler.runUntil(() => {
    for (const orphan of orphans)
      if (!times.has(orphan.group) && replaced(orphan))
        times.set(orphan.group, cluster.scheduler.nowMs - startMs);
    return times.size === orphans.length;
  }, 10_000);
  return orphans.map(({ group }) => times.get(group) ?? Number.POSITIVE_INFINITY);
}

/**
 * Every orphaned group elected within 2.5 election timeouts (+ the clock-drift allowance with
 * leases), and half of them within 2 (the target for the distribution). The design's
 * bound: a quiet follower hears the dead process last up to one liveness period (timeout / 8)
 * before the fault, waits timeout + one period of silence, noticed at its next liveness tick, then
 * only the random part of its election timeout (< timeout), then one vote round trip.
 */
function assertElectedInTime(times: readonly number[], driftMs: number): string {
  const sorted = [...times].sort((a, b) => a - b);
  const text = sorted.map((ms) => ms.toFixed(0)).join(",");
  assert.ok(
    (sorted.at(-1) ?? 0) <= 2.5 * ELECTION_TIMEOUT_MS + driftMs,
    `every group elected within 2.5 timeouts: ${text} ms`,
  );
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
  assert.ok(median <= 2 * ELECTION_TIMEOUT_MS + driftMs, `half of them within 2 timeouts: ${text} ms`);
  return `re-elected after (ms): ${text}`;
}

/** Every group's leader takes a write (through whoever leads it now). */
async function writeEveryGroup(cluster: SimCluster, text: string): Promise<void> {
  for (const group of cluster.groups) {
    const leader = await group.waitForLeader(5000);
    assert.ok(leader !== undefined, `${group.groupId} has a leader: ${group.describe()}`);
    await group.applyAndWait(bytes(`${text} ${group.groupId}`));
  }
}

/** Every group converges and passes every safety check. */
async function convergeAll(cluster: SimCluster): Promise<void> {
  for (const group of cluster.groups) {
    const converged = await cluster.scheduler.runUntil(() => group.converged(), 30_000);
    assert.ok(converged, `${group.groupId} converged: ${group.describe()}`);
    group.checkSafety();
    group.checker.checkAcknowledgedApplied();
  }
  assert.deepEqual(cluster.violations, []);
}

/** Checks every group's lease after every event from now on. */
function checkLeases(cluster: SimCluster): void {
  const checkers = cluster.groups.map((group) => new LeaseChecker(group));
  cluster.scheduler.afterEvent = () => {
    for (const checker of checkers) checker.check();
  };
}

test("ManyGroupsLeaderProcessKilledWhileQuiet: 3 processes x 16 quiet groups, kill -9 of the process leading most: every group it led elects within 2.5 election timeouts (half within 2) and every group takes a write", async (t) => {
  const cluster = await quietGroups({ seed: 1931 });
  try {
    const { victim, orphans } = busiest(cluster);
    cluster.crash(victim);
    const times = await electionTimes(cluster, victim, orphans);
    t.diagnostic(assertElectedInTime(times, 0));
    await writeEveryGroup(cluster, "after kill");
    await cluster.start(victim);
    await writeEveryGroup(cluster, "after restart");
    await convergeAll(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

/**
 * Quiet groups with leader leases on, every lease checked against newer leaders; `body` cuts off
 * `victim`, the process leading most of them (`orphans`). Always shuts the cluster down.
 */
async function onLeasedQuietGroups(
  seed: number,
  body: (cluster: SimCluster, victim: PeerKey, orphans: Orphan[]) => Promise<void>,
): Promise<void> {
  const cluster = await quietGroups({
    seed,
    maxClockDriftMs: DRIFT_MS,
    flags: { raft_enable_leader_lease: true },
  });
  try {
    checkLeases(cluster);
    const { victim, orphans } = busiest(cluster);
    await body(cluster, victim, orphans);
  } finally {
    cluster.scheduler.afterEvent = undefined;
    await cluster.shutdownAll();
    cluster.dispose();
  }
}

test("ManyGroupsPartitionedProcessWhileQuiet: the process leading most quiet groups is cut off: they elect on the other side within 2.5 election timeouts + drift (half within 2), no lease overlaps a newer leader, and after healing each group has one leader", async (t) => {
  await onLeasedQuietGroups(1932, async (cluster, victim, orphans) => {
    cluster.network.partition([[victim], cluster.peers.filter((peer) => peer !== victim)]);
    const times = await electionTimes(cluster, victim, orphans);
    t.diagnostic(assertElectedInTime(times, DRIFT_MS));
    await writeEveryGroup(cluster, "during");
    cluster.network.heal();
    await cluster.scheduler.runFor(3000);
    for (const group of cluster.groups) {
      const leaders = cluster.running().filter((peer) => group.node(peer).isLeader());
      assert.equal(leaders.length, 1, `${group.groupId} has one leader after healing: ${group.describe()}`);
    }
    await writeEveryGroup(cluster, "healed");
    await convergeAll(cluster);
  });
});

test("ManyGroupsPausedProcessWhileQuiet: the process leading most quiet groups pauses for 5 timeouts: the others elect within 2.5 timeouts + drift, no lease overlaps a newer leader, and after it resumes its ReadIndex sees the writes made meanwhile", async (t) => {
  await onLeasedQuietGroups(1933, async (cluster, victim, orphans) => {
    cluster.pause(victim, 5 * ELECTION_TIMEOUT_MS);
    const times = await electionTimes(cluster, victim, orphans);
    t.diagnostic(assertElectedInTime(times, DRIFT_MS));
    const written = new Map<SimGroup, number>();
    for (const { group } of orphans) written.set(group, (await group.applyAndWait(bytes("meanwhile"))).index);
    await cluster.scheduler.runUntil(() => !cluster.paused(victim), 5000);
    for (const { group } of orphans) {
      const node = group.node(victim);
      const index = written.get(group) ?? 0;
      try {
        const read = await cluster.settle(node.readIndex({ timeoutMs: 3000 }), 3001);
        assert.ok(
          read.index >= index,
          `${group.groupId}: read at ${read.index} after write ${index} was acknowledged`,
        );
      } catch (error) {
        // The old leader refusing (it no longer leads, or times out) is correct too.
        assert.ok(!(error instanceof assert.AssertionError), String(error));
      }
    }
    await writeEveryGroup(cluster, "resumed");
    await convergeAll(cluster);
  });
});

test("ManyGroupsProcessKilledWhileBusy: kill -9 of the process leading the fewest groups while all 16 groups write: every write to a group led elsewhere commits, the groups it led elect, and after its restart from disk every group converges with every acknowledged entry kept", async () => {
  const cluster = new SimCluster({
    seed: 1934,
    nodes: 3,
    groups: GROUPS,
    quiescence: true,
    disk: { minLatencyMs: 1, maxLatencyMs: 8 },
  });
  try {
    await cluster.startAll();
    await cluster.scheduler.runUntil(() => cluster.groups.every((g) => g.leader() !== undefined), 10_000);
    const ledBy = (peer: PeerKey): SimGroup[] => cluster.groups.filter((g) => g.leader() === peer);
    const victim = [...cluster.peers].sort((a, b) => ledBy(a).length - ledBy(b).length)[0] as PeerKey;
    const others = cluster.groups.filter((g) => g.leader() !== victim);
    const writes = others.flatMap((group) => {
      const leader = group.leader() as PeerKey;
      return Array.from({ length: 5 }, (_, i) => group.apply(leader, bytes(`w${i} ${group.groupId}`), 5000));
    });
    await cluster.scheduler.runFor(3);
    cluster.crash(victim);
    const outcomes = await cluster.settle(Promise.allSettled(writes), 6000);
    const failed = outcomes.filter((o) => o.status === "rejected").map((o) => String(o.reason));
    assert.deepEqual(failed, [], "the two remaining processes commit every write of the groups they lead");
    await writeEveryGroup(cluster, "after kill");
    await cluster.start(victim);
    await writeEveryGroup(cluster, "after restart");
    await convergeAll(cluster);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});

for (const seed of [1941, 1942]) {
  test(`many-groups simulation seed ${seed}: 16 groups per process, quiescence on`, async () => {
    const result = await runSimulation({ seed, groups: GROUPS, quiescence: true, durationMs: 10_000 });
    assert.deepEqual(
      result.violations,
      [],
      `replay: npm run sim -- --seed ${seed} --groups 16 --quiescence on --duration-ms 10000`,
    );
    assert.ok(result.acknowledged > 0, "the workload made progress");
  });
}

test("FirstLeadersSpread: 48 groups on 3 processes started 400 ms apart: every process leads at least 10 of them after the first elections (16 each if even)", async () => {
  const groups = 48;
  const cluster = new SimCluster({ seed: 1931, nodes: 3, groups, electionTimeoutMs: ELECTION_TIMEOUT_MS });
  try {
    for (const peer of cluster.peers) {
      await cluster.start(peer);
      await cluster.scheduler.runFor(400);
    }
    const led = await cluster.scheduler.runUntil(
      () => cluster.groups.every((g) => g.leader() !== undefined),
      10_000,
    );
    assert.ok(led, "every group elected a leader");
    const counts = cluster.peers.map((peer) => cluster.groups.filter((g) => g.leader() === peer).length);
    // Before each group's first voter went first, the first process started led 44 of 48.
    for (const count of counts) assert.ok(count >= 10, `groups led per process: ${counts.join(", ")}`);
  } finally {
    await cluster.shutdownAll();
    cluster.dispose();
  }
});
