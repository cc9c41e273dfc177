/** Shared pieces of the simulator scenario tests. */
import assert from "node:assert/strict";
import { RaftError } from "../../src/core/errors.js";
import { SimCluster, type SimClusterOptions } from "../../src/testing/sim-cluster.js";

export const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The RaftError code a promise rejects with, or "OK". */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (RaftError.is(error)) return error.code;
    throw error;
  }
}

/** The RaftError a promise rejects with; fails the test if it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<RaftError> {
  try {
    await promise;
  } catch (error) {
    if (RaftError.is(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/** Runs until every member caught up, then checks every safety property. */
export async function converge(cluster: SimCluster): Promise<void> {
  const converged = await cluster.scheduler.runUntil(() => cluster.converged(), 30_000);
  assert.ok(converged, `cluster converged: ${cluster.describe()}`);
  cluster.checkSafety();
  cluster.checker.checkAcknowledgedApplied();
  assert.deepEqual(cluster.checker.violations, []);
}

/** Runs `body` on a new cluster, shuts it down cleanly and always disposes of it. */
export async function withCluster(
  options: SimClusterOptions,
  body: (cluster: SimCluster) => Promise<void>,
): Promise<void> {
  const cluster = new SimCluster(options);
  try {
    await body(cluster);
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
}

/** Runs until `peer` is downloading a snapshot; fails the test after `timeoutMs`. */
export async function untilDownloading(cluster: SimCluster, peer: string, timeoutMs: number): Promise<void> {
  const downloading = await cluster.scheduler.runUntil(
    () => cluster.node(peer).getStatus().snapshotStatus === "DOWNLOADING",
    timeoutMs,
  );
  assert.ok(downloading, `${peer} started installing a snapshot`);
}

/**
 * Stops `follower`, writes 20 entries and compacts the leader's log past them, so the follower,
 * started again, needs a snapshot install (it comes back with a log whose end is compacted).
 */
export async function compactPast(cluster: SimCluster, leader: string, follower: string): Promise<void> {
  await cluster.stop(follower);
  for (let i = 0; i < 20; i++) await cluster.applyAndWait(bytes(`a${i}`));
  await cluster.settle(cluster.node(leader).snapshot());
}
