/**
 * Snapshots on the simulator, after braft's test_node.cpp: RestoreSnapshot, InstallSnapshot,
 * NoSnapshot, AutoSnapshot, and a wiped follower rejoining a group whose log was compacted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import { SimCluster, type SimClusterOptions } from "../../src/testing/sim-cluster.js";
import { untilDownloading } from "./helpers.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

async function withCluster(
  options: SimClusterOptions,
  body: (cluster: SimCluster) => Promise<void>,
): Promise<void> {
  const cluster = new SimCluster(options);
  try {
    await cluster.startAll();
    await body(cluster);
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
}

async function applyMany(cluster: SimCluster, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) await cluster.applyAndWait(bytes(`${prefix}${i}`));
}

async function converge(cluster: SimCluster): Promise<void> {
  const converged = await cluster.scheduler.runUntil(() => cluster.converged(), 30_000);
  assert.ok(converged, `cluster converged: ${cluster.describe()}`);
  cluster.checkSafety();
  cluster.checker.checkAcknowledgedApplied();
  assert.deepEqual(cluster.checker.violations, []);
}

test("RestoreSnapshot: a restarted node loads its snapshot, then replays the log after it", async () => {
  await withCluster({ seed: 21, nodes: 3, snapshots: { intervalS: 0 } }, async (cluster) => {
    const leader = (await cluster.waitForLeader()) as string;
    await applyMany(cluster, 20, "a");
    await cluster.settle(cluster.node(leader).snapshot());
    const status = cluster.node(leader).getStatus();
    assert.equal(status.lastSnapshotIndex, status.appliedIndex);
    await applyMany(cluster, 5, "b");
    cluster.crash(leader);
    await cluster.start(leader);
    assert.equal(cluster.node(leader).getStatus().lastSnapshotIndex, status.lastSnapshotIndex);
    await converge(cluster);
  });
});

test("InstallSnapshot: a wiped follower catches up from a compacted leader by snapshot", async () => {
  await withCluster(
    { seed: 22, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      const leader = (await cluster.waitForLeader()) as string;
      const follower = cluster.peers.find((peer) => peer !== leader) as string;
      await cluster.stop(follower);
      cluster.wipe(follower);
      await applyMany(cluster, 30, "a");
      await cluster.settle(cluster.node(leader).snapshot());
      assert.ok(cluster.node(leader).getStatus().firstIndex > 1, "the leader's log was compacted");
      await applyMany(cluster, 5, "b");
      await cluster.start(follower);
      await converge(cluster);
      const status = cluster.node(follower).getStatus();
      assert.ok(status.lastSnapshotIndex > 0, "the follower installed a snapshot");
      assert.equal(status.appliedIndex, cluster.node(leader).getStatus().appliedIndex);
    },
  );
});

test("NoSnapshot: snapshot() without snapshot storage fails with EINVAL", async () => {
  await withCluster({ seed: 23, nodes: 1 }, async (cluster) => {
    const leader = (await cluster.waitForLeader()) as string;
    await assert.rejects(
      cluster.node(leader).snapshot(),
      (e: unknown) => RaftError.is(e) && e.code === "EINVAL",
    );
  });
});

test("AutoSnapshot: the snapshot timer saves snapshots and keeps the log bounded under writes", async () => {
  await withCluster({ seed: 24, nodes: 3, snapshots: { intervalS: 1 } }, async (cluster) => {
    await cluster.waitForLeader();
    let longestLog = 0;
    for (let round = 0; round < 10; round++) {
      await applyMany(cluster, 50, `r${round}-`);
      await cluster.scheduler.runFor(1000);
      for (const peer of cluster.peers) {
        const status = cluster.node(peer).getStatus();
        longestLog = Math.max(longestLog, status.lastIndex - status.firstIndex + 1);
      }
    }
    for (const peer of cluster.peers) assert.ok(cluster.node(peer).getStatus().lastSnapshotIndex > 400, peer);
    assert.ok(longestLog < 200, `the log stayed bounded (longest ${longestLog} entries of 500 written)`);
    await converge(cluster);
  });
});

/** Stops `count` followers and wipes them, then writes and compacts on the leader: they must install. */
async function compactBehind(
  cluster: SimCluster,
  count: number,
): Promise<{ leader: string; behind: string[] }> {
  const leader = (await cluster.waitForLeader()) as string;
  const behind = cluster.peers.filter((peer) => peer !== leader).slice(0, count);
  for (const follower of behind) {
    await cluster.stop(follower);
    cluster.wipe(follower);
  }
  await applyMany(cluster, 20, "before");
  await cluster.settle(cluster.node(leader).snapshot());
  await applyMany(cluster, 3, "after");
  return { leader, behind };
}

test("Leader_step_down_during_install_snapshot: a leader change mid-install is handled cleanly", async () => {
  await withCluster(
    { seed: 25, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      const { leader, behind } = await compactBehind(cluster, 1);
      const follower = behind[0] as string;
      cluster.snapshotTransfer.copyDelayMs = 3000;
      await cluster.start(follower);
      await untilDownloading(cluster, follower, 10_000);
      assert.ok(cluster.node(follower).getStatus().snapshotDownloading !== undefined);
      cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
      await cluster.scheduler.runUntil(() => !cluster.node(leader).isLeader(), 10_000);
      assert.equal(cluster.node(leader).isLeader(), false, "the old leader stepped down");
      cluster.snapshotTransfer.copyDelayMs = 10;
      cluster.network.heal();
      await converge(cluster);
    },
  );
});

test("Report_error_during_install_snapshot: a failed copy is reported and retried", async () => {
  await withCluster(
    { seed: 26, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      const follower = (await compactBehind(cluster, 1)).behind[0] as string;
      let failures = 0;
      cluster.snapshotTransfer.failCopy = () => failures++ < 2;
      await cluster.start(follower);
      await converge(cluster);
      assert.ok(failures >= 2, "two copies failed before one succeeded");
      assert.ok(cluster.node(follower).getStatus().lastSnapshotIndex > 0);
    },
  );
});

test("install_snapshot_exceed_max_task_num: an install beyond the limit is refused, and retried", async () => {
  await withCluster(
    { seed: 27, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      const follower = (await compactBehind(cluster, 1)).behind[0] as string;
      // A server whose only install slot is taken (by another group's install, as it were) refuses
      // every one; the leader keeps retrying. (0 slots is no longer a valid flag: braft's bound.)
      await cluster.start(follower, { raft_max_install_snapshot_tasks_num: 1 });
      const internals = cluster.node(follower) as unknown as {
        running: { parts: { snapshotExecutor: { options: { installSlots: { running: number } } } } };
      };
      internals.running.parts.snapshotExecutor.options.installSlots.running = 1;
      await cluster.scheduler.runFor(5000);
      assert.equal(cluster.node(follower).getStatus().lastSnapshotIndex, 0, "no install ran");
      assert.equal(cluster.snapshotTransfer.copiesStarted, 0);
      await cluster.stop(follower);
      await cluster.start(follower);
      await converge(cluster);
      assert.ok(cluster.node(follower).getStatus().lastSnapshotIndex > 0, "the retried install ran");
    },
  );
});

test("SlowInstall: an install longer than its RPC timeout is retried into the same copy and completes", async () => {
  await withCluster(
    { seed: 28, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      const follower = (await compactBehind(cluster, 1)).behind[0] as string;
      cluster.snapshotTransfer.copyDelayMs = 25_000; // the install RPC times out after 10 s
      await cluster.start(follower);
      const installed = await cluster.scheduler.runUntil(
        () => cluster.node(follower).getStatus().lastSnapshotIndex > 0,
        60_000,
      );
      assert.ok(installed, cluster.describe());
      assert.equal(cluster.snapshotTransfer.copiesStarted, 1, "the retries joined the first copy");
      cluster.snapshotTransfer.copyDelayMs = 10;
      await converge(cluster);
    },
  );
});

test("WipedFollowerUnderIdleLeader: a refused heartbeat makes the leader probe and repair it", async () => {
  await withCluster({ seed: 29, nodes: 3 }, async (cluster) => {
    const leader = (await cluster.waitForLeader()) as string;
    await applyMany(cluster, 10, "x");
    await cluster.scheduler.runFor(500);
    const follower = cluster.peers.find((peer) => peer !== leader) as string;
    await cluster.stop(follower);
    cluster.wipe(follower);
    await cluster.start(follower);
    // No new writes: only heartbeats can reveal the wiped log.
    const repaired = await cluster.scheduler.runUntil(
      () => cluster.node(follower).getStatus().appliedIndex === cluster.node(leader).getStatus().appliedIndex,
      10_000,
    );
    assert.ok(repaired, cluster.describe());
  });
});
