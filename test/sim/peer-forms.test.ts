/**
 * braft's textual PeerId forms reaching a tsraft node through snapshots (issue 15): braft writes
 * `ip:port:idx:role` (PeerId::to_string), tsraft names itself `ip:port:idx`; both are one peer.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SnapshotMeta } from "../../src/storage/snapshot-storage.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The meta as a braft leader writes it into `__raft_snapshot_meta`: every peer with `:0` appended. */
function inBraftForm(meta: SnapshotMeta): SnapshotMeta {
  const withRole = (peers: readonly string[] | undefined): string[] | undefined =>
    peers?.map((peer) => `${peer}:0`);
  return { ...meta, peers: withRole(meta.peers) ?? [], oldPeers: withRole(meta.oldPeers) };
}

test("TransferLeadershipAfterBraftSnapshotInstall: a node that installed a snapshot naming peers ip:port:idx:role takes over on transfer", async () => {
  const cluster = new SimCluster({ seed: 1515, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } });
  try {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    const target = cluster.peers.find((peer) => peer !== leader) as string;
    await cluster.stop(target);
    cluster.wipe(target);
    for (let i = 0; i < 20; i++) await cluster.applyAndWait(bytes(`a${i}`));
    await cluster.settle(cluster.node(leader).snapshot());
    const store = cluster.process(leader).snapshotStore;
    assert.ok(store?.current !== undefined, "the leader saved a snapshot");
    store.current = { ...store.current, meta: inBraftForm(store.current.meta) };
    await cluster.start(target);
    // The wiped target boots with the initial conf; then the installed snapshot's conf replaces it.
    const snapshotIndex = cluster.node(leader).getStatus().lastSnapshotIndex;
    const confFromSnapshot = await cluster.scheduler.runUntil(
      () => cluster.node(target).getStatus().confIndex === snapshotIndex,
      10_000,
    );
    assert.ok(confFromSnapshot, `the target took the snapshot's conf: ${cluster.describe()}`);
    assert.deepEqual([...cluster.node(target).getStatus().peers].sort(), [...cluster.peers].sort());
    await cluster.settle(cluster.node(leader).transferLeadershipTo(target));
    const moved = await cluster.scheduler.runUntil(() => cluster.leader() === target, 5000);
    assert.ok(moved, `the target leads: ${cluster.describe()}`);
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
});
