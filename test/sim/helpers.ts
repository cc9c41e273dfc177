/** Shared pieces of the simulator scenario tests. */
import assert from "node:assert/strict";
import { RaftError } from "../../src/core/errors.js";
import type { SimCluster } from "../../src/testing/sim-cluster.js";

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
