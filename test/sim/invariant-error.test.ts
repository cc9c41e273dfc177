/**
 * A broken core invariant (src/core/invariants.ts) must stop the node the way braft stops a node
 * whose state cannot be trusted: ERROR state, `onError` called, the rest of the group unharmed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RaftError } from "../../src/core/errors.js";
import { coreStateForTests, type RaftCore } from "../../src/core/raft.js";
import type { RaftNode } from "../../src/node/raft-node.js";
import type { StateMachine } from "../../src/node/state-machine.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes } from "./helpers.js";

/** The node's core, reached past the shell's encapsulation: only a test may break it on purpose. */
const coreOf = (node: RaftNode): RaftCore =>
  (node as unknown as { running: { parts: { core: RaftCore } } }).running.parts.core;

test("InvariantBroken: a follower whose core breaks an invariant enters ERROR and calls onError", async () => {
  const errors = new Map<string, RaftError[]>();
  const fsm = (peer: string): StateMachine => ({
    onApply(iter) {
      for (const entry of iter) entry.done?.setResult?.(entry.index);
    },
    onError(error) {
      errors.set(peer, [...(errors.get(peer) ?? []), error]);
    },
  });
  const cluster = new SimCluster({ seed: 14, nodes: 3, fsmFactory: fsm });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("before"));
  const follower = cluster.running().find((peer) => peer !== leader) as string;
  const node = cluster.node(follower);

  coreStateForTests(coreOf(node)).commitIndex = 1_000_000; // what no correct input can produce
  await cluster.scheduler.runUntil(() => node.getStatus().state === "ERROR", 5_000);

  assert.equal(node.getStatus().state, "ERROR");
  const seen = errors.get(follower) ?? [];
  assert.equal(seen.length, 1, "onError was called once");
  assert.match(seen[0]?.message ?? "", /invariant broken: committed 1000000 beyond last index/);
  assert.equal(errors.size, 1, "no other node saw an error");
  const after = await cluster.applyAndWait(bytes("after"));
  assert.ok(after.index > 0, "the two healthy nodes still commit");
  await cluster.shutdownAll();
});
