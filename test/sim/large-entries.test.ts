/**
 * Large entries on a network with limited bandwidth and brpc's frame limit (64 MiB): an entry no
 * AppendEntries can carry is refused by apply() with EINVAL, and the largest one allowed commits
 * without any follower missing its heartbeats (no pre-vote, no election, the same leader).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Logger } from "../../src/env/logger.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { codeOf, converge } from "./helpers.js";

const MiB = 1024 * 1024;
const FRAME_LIMIT_BYTES = 64 * MiB;
/** 100 Mbit/s: a 63 MiB entry occupies a connection for about five election timeouts. */
const SLOW_LINK = { bandwidthBytesPerMs: 12_500, maxBodyBytes: FRAME_LIMIT_BYTES };

/** Counts the elections the nodes log (pre-votes and votes). */
class ElectionLog implements Logger {
  elections = 0;
  debug(): void {}
  info(message: string): void {
    if (message === "pre-vote started" || message === "election started") this.elections++;
  }
  warn(): void {}
  error(): void {}
}

async function stableCluster(
  seed: number,
): Promise<{ cluster: SimCluster; log: ElectionLog; leader: string }> {
  const log = new ElectionLog();
  const cluster = new SimCluster({ seed, nodes: 3, network: SLOW_LINK, logger: log });
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  assert.ok(leader !== undefined);
  await cluster.applyAndWait(new Uint8Array(16));
  return { cluster, log, leader };
}

/** The largest entry the leader accepts, as its host computes it. */
function entryBytesMax(cluster: SimCluster, leader: string): number {
  return cluster.network.host(leader).maxEntryDataBytes?.(cluster.groupId) ?? Number.POSITIVE_INFINITY;
}

test("EntryTooLarge: apply() of an entry over the frame limit fails with EINVAL and leaves the log alone", async () => {
  const { cluster, leader } = await stableCluster(1101);
  const max = entryBytesMax(cluster, leader);
  assert.ok(max < FRAME_LIMIT_BYTES && max > FRAME_LIMIT_BYTES - 4096, `limit ${max}`);
  const node = cluster.node(leader);
  const lastIndex = node.getStatus().lastIndex;
  assert.equal(await codeOf(cluster.settle(node.apply(new Uint8Array(FRAME_LIMIT_BYTES)), 1)), "EINVAL");
  assert.equal(await codeOf(cluster.settle(node.apply(new Uint8Array(max + 1)), 1)), "EINVAL");
  assert.equal(node.getStatus().lastIndex, lastIndex, "nothing was appended");
  await converge(cluster);
  await cluster.shutdownAll();
});

test("LargeEntryNoElection: the largest entry allowed commits on a slow link, and no election starts", async () => {
  const { cluster, log, leader } = await stableCluster(1102);
  const term = cluster.node(leader).term;
  const elections = log.elections;
  const big = new Uint8Array(entryBytesMax(cluster, leader)).fill(7);
  const result = await cluster.applyAndWait(big, 60_000);
  assert.equal(result.term, term);
  assert.equal(log.elections, elections, "no node started a pre-vote or an election");
  assert.equal(cluster.leader(), leader);
  assert.equal(cluster.node(leader).term, term);
  await converge(cluster);
  await cluster.shutdownAll();
});

test("LargeEntriesNoElection: eight 8 MiB entries proposed at once commit, and no election starts", async () => {
  const { cluster, log, leader } = await stableCluster(1103);
  const term = cluster.node(leader).term;
  const elections = log.elections;
  const applies = Array.from({ length: 8 }, (_, i) =>
    cluster.apply(leader, new Uint8Array(8 * MiB).fill(i + 1), 60_000),
  );
  const results = await cluster.settle(Promise.all(applies), 60_001);
  assert.equal(results.length, 8);
  assert.equal(log.elections, elections, "no node started a pre-vote or an election");
  assert.equal(cluster.node(leader).term, term);
  await converge(cluster);
  await cluster.shutdownAll();
});
