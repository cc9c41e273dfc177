/**
 * Catching up a new peer (braft's ConfigurationCtx and catchup_timeout_ms) and keeping a follower
 * that installs a long snapshot in its leader's lease (braft's replicator heartbeats it meanwhile).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SimCluster } from "../../src/testing/sim-cluster.js";
import {
  bytes,
  codeOf,
  compactPast,
  converge,
  rejectionOf,
  untilDownloading,
  withCluster,
} from "./helpers.js";

/**
 * Starts the first three peers, writes and compacts the leader's log, and starts the fourth
 * (outside the configuration): adding it takes a snapshot install of `copyDelayMs`.
 */
async function compactedGroupAndNewcomer(
  cluster: SimCluster,
  copyDelayMs: number,
  newcomerFlags: Parameters<SimCluster["start"]>[1] = {},
): Promise<{ leader: string; newcomer: string }> {
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  for (let i = 0; i < 20; i++) await cluster.applyAndWait(bytes(`a${i}`));
  await cluster.settle(cluster.node(leader).snapshot());
  assert.ok(cluster.node(leader).getStatus().firstIndex > 1, "the leader's log was compacted");
  for (let i = 0; i < 3; i++) await cluster.applyAndWait(bytes(`b${i}`));
  cluster.snapshotTransfer.copyDelayMs = copyDelayMs;
  const newcomer = cluster.peers[3] as string;
  await cluster.start(newcomer, newcomerFlags);
  return { leader, newcomer };
}

const COMPACTING = { intervalS: 0, logMarginEntries: 0 };

test("AddPeerWithSlowSnapshotInstall: addPeer waits for an install five election timeouts long", async () => {
  await withCluster({ seed: 141, nodes: 4, initialVoters: 3, snapshots: COMPACTING }, async (cluster) => {
    const { leader, newcomer } = await compactedGroupAndNewcomer(cluster, 5000);
    const startMs = cluster.scheduler.nowMs;
    assert.equal(await codeOf(cluster.settle(cluster.node(leader).addPeer(newcomer))), "OK");
    assert.ok(cluster.scheduler.nowMs - startMs >= 5000, "the change waited for the install");
    assert.equal(cluster.snapshotTransfer.copiesStarted, 1, "one copy, never restarted");
    assert.ok(cluster.node(leader).listPeers().map(String).includes(newcomer));
    cluster.snapshotTransfer.copyDelayMs = 10;
    await cluster.applyAndWait(bytes("after"));
    await converge(cluster);
  });
});

test("AddPeerRetryJoinsRunningInstall: after ECATCHUP, the same change joins the copy in progress", async () => {
  await withCluster({ seed: 142, nodes: 4, initialVoters: 3, snapshots: COMPACTING }, async (cluster) => {
    const { leader, newcomer } = await compactedGroupAndNewcomer(cluster, 8000);
    const first = cluster.node(leader).addPeer(newcomer);
    await untilDownloading(cluster, newcomer, 5000);
    const copyStartMs = cluster.scheduler.nowMs;
    // The leader's appends and heartbeats to the newcomer are lost: it looks dead, and the
    // change gives up. Its copy (its own requests to the leader) goes on.
    cluster.dropAppend = (from, request) => from === leader && request.peerId === newcomer;
    assert.equal(await codeOf(cluster.settle(first)), "ECATCHUP");
    assert.equal(cluster.node(newcomer).getStatus().snapshotStatus, "DOWNLOADING", "still copying");
    cluster.dropAppend = undefined;
    assert.equal(await codeOf(cluster.settle(cluster.node(leader).addPeer(newcomer))), "OK");
    assert.equal(cluster.snapshotTransfer.copiesStarted, 1, "the retry joined the first copy");
    assert.ok(cluster.scheduler.nowMs - copyStartMs < 9000, "the copy was not started over");
    cluster.snapshotTransfer.copyDelayMs = 10;
    await cluster.applyAndWait(bytes("after"));
    await converge(cluster);
  });
});

test("ChangePeersWithSlowSnapshotInstall: a joint change waits for two installs and fails only on the peer that died", async () => {
  await withCluster({ seed: 145, nodes: 5, initialVoters: 3, snapshots: COMPACTING }, async (cluster) => {
    const { leader } = await compactedGroupAndNewcomer(cluster, 4000);
    const [a, b, c, d, e] = cluster.peers as [string, string, string, string, string];
    await cluster.start(e);
    const both = () =>
      [d, e].every((peer) => cluster.node(peer).getStatus().snapshotStatus === "DOWNLOADING");
    const change = cluster.node(leader).changePeers([a, b, c, d, e]);
    assert.ok(await cluster.scheduler.runUntil(both, 5000), "both installs started");
    cluster.crash(e);
    const error = await rejectionOf(cluster.settle(change));
    assert.equal(error.code, "ECATCHUP");
    assert.ok(error.message.includes(`new peer ${e} did not catch up: no answer`), error.message);
    assert.deepEqual(cluster.node(leader).listPeers().map(String), [a, b, c]);
    await cluster.start(e);
    assert.equal(await codeOf(cluster.settle(cluster.node(leader).changePeers([a, b, c, d, e]))), "OK");
    assert.deepEqual(cluster.node(leader).listPeers().map(String), [a, b, c, d, e]);
    cluster.snapshotTransfer.copyDelayMs = 10;
    await cluster.applyAndWait(bytes("after"));
    await converge(cluster);
  });
});

test("CatchupTimeout: a live peer that makes no progress fails with ECATCHUP after catchupTimeoutMs", async () => {
  const options = { seed: 143, nodes: 4, initialVoters: 3, snapshots: COMPACTING, catchupTimeoutMs: 3000 };
  await withCluster(options, async (cluster) => {
    // A server whose only install slot is taken refuses every install: alive, but never closer.
    // (0 slots is not a valid flag: braft's bound.)
    const { leader, newcomer } = await compactedGroupAndNewcomer(cluster, 10, {
      raft_max_install_snapshot_tasks_num: 1,
    });
    const internals = cluster.node(newcomer) as unknown as {
      running: { parts: { snapshotExecutor: { options: { installSlots: { running: number } } } } };
    };
    internals.running.parts.snapshotExecutor.options.installSlots.running = 1;
    const startMs = cluster.scheduler.nowMs;
    const error = await rejectionOf(cluster.settle(cluster.node(leader).addPeer(newcomer)));
    assert.equal(error.code, "ECATCHUP");
    assert.ok(error.message.includes("refused the snapshot"), error.message);
    const waitedMs = cluster.scheduler.nowMs - startMs;
    assert.ok(waitedMs >= 3000 && waitedMs < 3500, `gave up after catchupTimeoutMs (${waitedMs} ms)`);
    assert.ok(!cluster.node(leader).listPeers().map(String).includes(newcomer));
  });
});

test("InstallSnapshotKeepsFollowerLease: a follower installing a long snapshot keeps its leader and serves reads", async () => {
  await withCluster({ seed: 144, nodes: 3, snapshots: COMPACTING }, async (cluster) => {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    await cluster.applyAndWait(bytes("x"));
    const follower = cluster.peers.find((peer) => peer !== leader) as string;
    await compactPast(cluster, leader, follower); // stopped, not wiped
    await cluster.applyAndWait(bytes("after the snapshot"));
    cluster.snapshotTransfer.copyDelayMs = 6000;
    await cluster.start(follower);
    await untilDownloading(cluster, follower, 5000);
    const term = cluster.node(follower).term;
    let lapse: string | undefined; // the first moment it did not follow the leader
    const sample = (): boolean => {
      const status = cluster.node(follower).getStatus();
      if (lapse === undefined && (status.leaderId !== leader || status.state !== "FOLLOWER")) {
        lapse = `${cluster.scheduler.nowMs} ms: ${status.state} following '${status.leaderId}'`;
      }
      return status.snapshotStatus !== "DOWNLOADING";
    };
    let read: Promise<string> | undefined;
    cluster.scheduler.schedule(3000, () => {
      read = codeOf(cluster.node(follower).readIndex({ timeoutMs: 10_000 }));
    });
    const installed = await cluster.scheduler.runUntil(sample, 10_000);
    assert.ok(installed, cluster.describe());
    assert.equal(lapse, undefined, "it followed the leader throughout the install");
    assert.equal(cluster.node(follower).term, term, "it never started an election");
    assert.ok(read !== undefined, "the read was started mid-install");
    assert.equal(await cluster.settle(read), "OK", "a read started mid-install succeeds");
    cluster.snapshotTransfer.copyDelayMs = 10;
    await converge(cluster);
  });
});

test("FollowerReadAcrossInstallSnapshot: a read confirmed at an index the install covers completes without another write", async () => {
  await withCluster({ seed: 146, nodes: 3, snapshots: COMPACTING }, async (cluster) => {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    await cluster.applyAndWait(bytes("x"));
    const follower = cluster.peers.find((peer) => peer !== leader) as string;
    await compactPast(cluster, leader, follower);
    cluster.snapshotTransfer.copyDelayMs = 3000;
    await cluster.start(follower);
    await untilDownloading(cluster, follower, 5000);
    // No write follows: the snapshot alone brings the follower to the confirmed index.
    const read = await codeOf(cluster.settle(cluster.node(follower).readIndex({ timeoutMs: 10_000 })));
    assert.equal(read, "OK");
    assert.ok(cluster.node(follower).getStatus().lastSnapshotIndex > 0, "it was answered after the install");
    cluster.snapshotTransfer.copyDelayMs = 10;
    await converge(cluster);
  });
});
