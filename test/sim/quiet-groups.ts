/**
 * Shared setup of the simulator's quiescence scenarios (quiesce*.test.ts, many-groups.test.ts):
 * 3 processes hosting 16 groups each, every group led, written once and quiet everywhere.
 */
import assert from "node:assert/strict";
import type { PeerKey } from "../../src/core/types.js";
import { SimCluster, type SimClusterOptions } from "../../src/testing/sim-cluster.js";
import { bytes } from "./helpers.js";

export const ELECTION_TIMEOUT_MS = 1000;
export const GROUPS = 16;

/**
 * 3 processes x 16 groups with quiescence on (election timeout 1000 ms unless `options` say
 * otherwise): every group elects, takes one write, and is left idle for 3 s, after which every
 * node of every group must be quiet.
 */
export async function quietGroups(
  options: Partial<SimClusterOptions> & { seed: number },
): Promise<SimCluster> {
  const cluster = new SimCluster({
    nodes: 3,
    groups: GROUPS,
    quiescence: true,
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    ...options,
  });
  await cluster.startAll();
  const led = await cluster.scheduler.runUntil(
    () => cluster.groups.every((g) => g.leader() !== undefined),
    10_000,
  );
  assert.ok(led, "every group elected a leader");
  for (const group of cluster.groups) await group.applyAndWait(bytes(`before ${group.groupId}`));
  await cluster.scheduler.runFor(3000);
  assertQuiet(cluster, cluster.peers);
  return cluster;
}

/** Every group is quiet on each of `peers`. */
export function assertQuiet(cluster: SimCluster, peers: readonly PeerKey[]): void {
  for (const group of cluster.groups)
    for (const peer of peers)
      assert.ok(
        group.node(peer).getStatus().quiet,
        `${group.groupId} on ${peer} is quiet: ${group.describe()}`,
      );
}

/** Counts the AppendEntries (heartbeats included) every node sends from now on. */
export function countAppends(cluster: SimCluster): { count: number } {
  const counter = { count: 0 };
  cluster.dropAppend = () => {
    counter.count++;
    return false;
  };
  return counter;
}
