/**
 * NodeOptions.snapshotFileSystemAdaptor on the simulator: every process keeps its snapshots in
 * `local://` storage through its own adaptor (an encrypting one over memory here), survives
 * crashes with them, and installs the leader's snapshot through it; and randomized runs with
 * every snapshot in a MemoryFileSystemAdaptor stay safe and converge.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { MemoryFileSystemAdaptor } from "../../src/index.js";
import { snapshotDirName } from "../../src/storage/local/local-snapshot-storage.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { runSimulation } from "../../src/testing/sim-run.js";
import { EncryptingFileSystem } from "../support/encrypting-fs.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

test("SnapshotFileSystemAdaptor: restore after a crash and install to a wiped follower, all through encrypting adaptors", async () => {
  const memories = new Map<string, MemoryFileSystemAdaptor>();
  const cluster = new SimCluster({
    seed: 31,
    nodes: 3,
    snapshots: {
      intervalS: 0,
      logMarginEntries: 0,
      fileSystem: (peer) => {
        const memory = new MemoryFileSystemAdaptor();
        memories.set(peer, memory);
        return new EncryptingFileSystem(randomBytes(32), memory);
      },
    },
  });
  try {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    for (let i = 0; i < 20; i++) await cluster.applyAndWait(bytes(`a${i}`));
    await cluster.settle(cluster.node(leader).snapshot());
    const taken = cluster.node(leader).getStatus().lastSnapshotIndex;
    assert.ok(taken >= 20);
    cluster.crash(leader);
    await cluster.start(leader);
    assert.equal(cluster.node(leader).getStatus().lastSnapshotIndex, taken, "restored from the adaptor");

    const newLeader = (await cluster.waitForLeader()) as string;
    const follower = cluster.peers.find((peer) => peer !== newLeader) as string;
    await cluster.stop(follower);
    cluster.wipe(follower);
    for (let i = 0; i < 30; i++) await cluster.applyAndWait(bytes(`b${i}`));
    await cluster.settle(cluster.node(newLeader).snapshot());
    for (let i = 0; i < 5; i++) await cluster.applyAndWait(bytes(`c${i}`));
    await cluster.start(follower);
    assert.ok(await cluster.scheduler.runUntil(() => cluster.converged(), 30_000), cluster.describe());
    cluster.checkSafety();
    cluster.checker.checkAcknowledgedApplied();
    assert.deepEqual(cluster.checker.violations, []);

    const installed = cluster.node(follower).getStatus().lastSnapshotIndex;
    assert.ok(installed > taken, "the wiped follower installed the new leader's snapshot");
    const memory = memories.get(follower) as MemoryFileSystemAdaptor;
    const stored = memory.readFileSync(`/${follower}/snapshot/${snapshotDirName(installed)}/data`);
    assert.ok(
      stored !== undefined,
      `the follower's snapshot is in its adaptor: ${memory.listFilesSync().join(" ")}`,
    );
    assert.equal(Buffer.from(stored).includes("registers"), false, "and stored encrypted");
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
});

for (const seed of [3, 5]) {
  test(`simulation seed ${seed} with every snapshot in a MemoryFileSystemAdaptor`, async () => {
    const result = await runSimulation({ seed, durationMs: 15_000, snapshotFileSystem: true });
    assert.deepEqual(
      result.violations,
      [],
      `replay: npm run sim -- --seed ${seed} --duration-ms 15000 --fs-adaptor`,
    );
    assert.ok(result.acknowledged > 0, "the workload made progress");
  });
}
