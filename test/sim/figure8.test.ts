/**
 * Raft's figure 8 on real nodes in the simulator: an entry of an earlier term that a new leader
 * has copied to a quorum must not count as committed, because a node holding a later-term entry
 * at the same index can still be elected and overwrite it. Each step is forced with partitions,
 * crashes and dropped appends, so the run is deterministic.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimCluster } from "../../src/testing/sim-cluster.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("Figure8: a prior-term entry copied to a quorum is not committed by counting", async () => {
  const cluster = new SimCluster({
    seed: 12,
    nodes: 5,
    flags: { raft_max_entries_size: 1 },
    network: { minDelayMs: 1, maxDelayMs: 2 },
  });
  await cluster.startAll();
  const s1 = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("a"));
  await cluster.scheduler.runFor(500);
  const [s2, ...rest] = cluster.peers.filter((peer) => peer !== s1) as [string, ...string[]];

  // s1 writes x, which reaches s2 only.
  cluster.network.partition([[s1, s2], rest]);
  void cluster
    .node(s1)
    .apply(bytes("x"))
    .catch(() => undefined);
  await cluster.scheduler.runFor(100);
  const xIndex = cluster.node(s1).getStatus().lastIndex;
  assert.equal(cluster.process(s2).disk.snapshotOfLog().at(-1)?.index, xIndex);

  // One of the others wins a later term; its entry at the same index reaches nobody; it crashes.
  cluster.dropAppend = (from) => rest.includes(from);
  const elected = await cluster.scheduler.runUntil(
    () => rest.some((peer) => cluster.node(peer).isLeader()),
    10_000,
  );
  assert.ok(elected);
  const s5 = rest.find((peer) => cluster.node(peer).isLeader()) as string;
  await cluster.scheduler.runFor(20);
  const s5Entry = cluster
    .process(s5)
    .disk.snapshotOfLog()
    .find((entry) => entry.index === xIndex);
  assert.ok(s5Entry !== undefined && s5Entry.term > 1, "s5 holds its own later-term entry at x's index");
  cluster.crash(s5);
  const [s3, s4] = rest.filter((peer) => peer !== s5) as [string, string];

  // s1 or s2 leads again. Its new entry is held back, so x alone reaches s3 and s4: x is on a
  // quorum, but only as an entry of an earlier term.
  cluster.network.heal();
  cluster.dropAppend = (from, request) =>
    (from === s1 || from === s2) && request.entries.some((entry) => entry.index > xIndex);
  const back = await cluster.scheduler.runUntil(
    () => [s1, s2].some((peer) => cluster.node(peer).isLeader()),
    10_000,
  );
  assert.ok(back);
  const w3 = [s1, s2].find((peer) => cluster.node(peer).isLeader()) as string;
  // Its first appends carry the new entry and are lost; after their timeout it probes from the start.
  await cluster.scheduler.runFor(3000);
  const status = cluster.node(w3).getStatus();
  for (const peer of [s3, s4]) {
    assert.ok(
      (status.replicators.find((r) => r.peerId === peer)?.matchIndex ?? 0) >= xIndex,
      `x reached ${peer}`,
    );
  }
  const committedByCounting = status.committedIndex >= xIndex;

  // The leader dies before its own entry spreads; s5 returns, wins with s3 and s4, overwrites x.
  cluster.crash(s1);
  cluster.crash(s2);
  cluster.dropAppend = undefined;
  await cluster.start(s5);
  const s5Leads = await cluster.scheduler.runUntil(() => cluster.leader() === s5, 20_000);
  assert.ok(s5Leads, cluster.describe());
  await cluster.start(s1);
  await cluster.start(s2);
  await cluster.settle(cluster.apply(s5, bytes("after")));
  await cluster.scheduler.runUntil(() => cluster.converged(), 30_000);
  cluster.checkSafety();
  cluster.checker.checkAcknowledgedApplied();
  assert.deepEqual(cluster.checker.violations, [], "the safety checkers saw nothing wrong");
  assert.equal(committedByCounting, false, "x was not committed while only a prior-term entry on a quorum");
  await cluster.shutdownAll();
});
