/**
 * The guide's tutorial (docs/guide.md, "Testing your state machine"): the kv example's state
 * machine in the deterministic simulator, three nodes on virtual time and a lossy network, with
 * concurrent clients while the leader is killed and a node is cut off; the recorded history is
 * checked for linearizability. The regions marked below are the guide's snippets, verbatim.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
// #region imports
import { RaftError } from "../../src/index.js";
import {
  SimCluster,
  checkLinearizability,
  formatHistory,
  type RegisterOperation,
} from "../../src/testing/index.js";
import { KvStateMachine, encodeCommand, type KvWriteResult } from "../../examples/kv/kv-state-machine.js";
// #endregion imports

// #region cluster
/** Three real RaftNodes on simulated time, network and disk; everything follows from the seed. */
function createCluster(seed: number): SimCluster {
  return new SimCluster({
    seed,
    nodes: 3,
    fsmFactory: () => new KvStateMachine(), // a fresh state machine for every (re)start
    network: { minDelayMs: 1, maxDelayMs: 20, lossRate: 0.02, duplicateRate: 0.01 },
    snapshots: { intervalS: 2 }, // snapshot often, so restarts and catch-up load snapshots too
  });
}

function fsmOf(cluster: SimCluster, peer: string): KvStateMachine {
  return cluster.process(peer).fsm as KvStateMachine;
}
// #endregion cluster

// #region client
/** How long a client waits for one call, in virtual ms, before it calls the outcome unknown. */
const CALL_TIMEOUT_MS = 3000;

/** Resolves with `promise`'s value, or with undefined after `ms` of virtual time. */
function withTimeout<T>(cluster: SimCluster, promise: Promise<T>, ms: number): Promise<T | undefined> {
  promise.catch(() => undefined); // a call that outlives its timeout may still reject
  return new Promise((resolve, reject) => {
    const cancel = cluster.scheduler.schedule(ms, () => resolve(undefined));
    promise.then(
      (value) => (cancel(), resolve(value)),
      (error: unknown) => (cancel(), reject(error)),
    );
  });
}

/**
 * One client: random puts and linearizable gets on two keys through random nodes, each recorded
 * as a register operation. The register's value is the number stored under the key (0: absent).
 */
async function runClient(cluster: SimCluster, client: number, untilMs: number, history: RegisterOperation[]) {
  const { scheduler } = cluster;
  const prng = cluster.prng.fork(`client ${client}`);
  for (let seq = 1; scheduler.nowMs < untilMs; seq++) {
    const peer = prng.pick(cluster.running());
    const key = prng.pick(["a", "b"]);
    const callMs = scheduler.nowMs;
    if (prng.chance(0.5)) {
      const value = client * 1_000_000 + seq;
      const requestId = `${client}/${seq}`;
      const command = encodeCommand({ op: "put", key, value: String(value), requestId });
      const input = { type: "exchange", value: BigInt(value) } as const;
      try {
        const answer = await withTimeout(cluster, cluster.node(peer).apply(command), CALL_TIMEOUT_MS);
        if (answer === undefined) history.push({ client, key, input, outcome: "unknown", callMs });
        else {
          const previous = BigInt((answer.result as KvWriteResult).previous ?? 0);
          history.push({
            client,
            key,
            input,
            outcome: "ok",
            output: { previous },
            callMs,
            returnMs: scheduler.nowMs,
          });
        }
      } catch (error) {
        // "refused": it never entered the log. Anything else may still be applied.
        const outcome = RaftError.is(error) && error.outcome === "refused" ? "fail" : "unknown";
        history.push({ client, key, input, outcome, callMs });
      }
    } else {
      const input = { type: "get" } as const;
      try {
        const read = await withTimeout(cluster, cluster.node(peer).readIndex(), CALL_TIMEOUT_MS);
        if (read === undefined) throw new Error("timed out");
        const previous = BigInt(fsmOf(cluster, peer).data.get(key) ?? 0);
        history.push({
          client,
          key,
          input,
          outcome: "ok",
          output: { previous },
          callMs,
          returnMs: scheduler.nowMs,
        });
      } catch {
        history.push({ client, key, input, outcome: "fail", callMs }); // a failed read changed nothing
      }
    }
    await new Promise((resolve) => scheduler.schedule(prng.int(1, 50), () => resolve(undefined)));
  }
}
// #endregion client

// #region nemesis
/**
 * Drives virtual time while it kills the leader (kill -9: unsynced writes are lost), restarts it
 * from its disk, and cuts a random node off for a while. It runs between scheduler runs (a
 * restart runs the scheduler itself); the clients make progress during each runFor.
 */
async function runNemesis(cluster: SimCluster, untilMs: number): Promise<void> {
  const { scheduler, network } = cluster;
  const prng = cluster.prng.fork("nemesis");
  while (scheduler.nowMs < untilMs) {
    await scheduler.runFor(1500);
    const leader = cluster.leader();
    if (leader !== undefined) {
      cluster.crash(leader);
      await scheduler.runFor(1000);
      await cluster.start(leader);
    }
    const isolated = prng.pick(cluster.peers);
    network.partition([[isolated], cluster.peers.filter((peer) => peer !== isolated)]);
    await scheduler.runFor(1500);
    network.heal();
  }
}
// #endregion nemesis

const clusters: SimCluster[] = [];
after(() => clusters.forEach((cluster) => cluster.dispose()));

describe("the guide's simulator tutorial: KvStateMachine", () => {
  // #region test
  it("stays linearizable and converges while leaders crash and nodes are cut off (seed 7)", async () => {
    const cluster = createCluster(7);
    clusters.push(cluster);
    await cluster.startAll();
    const untilMs = cluster.scheduler.nowMs + 20_000;
    const history: RegisterOperation[] = [];
    const clients = Promise.all([1, 2, 3].map((client) => runClient(cluster, client, untilMs, history)));
    await runNemesis(cluster, untilMs);
    await cluster.settle(clients, 60_000);

    // Healed: every member applies everything, and the replicas hold the same map.
    await cluster.scheduler.runUntil(() => cluster.converged(), 30_000);
    assert.ok(cluster.converged(), cluster.describe());
    const maps = cluster.running().map((peer) => JSON.stringify([...fsmOf(cluster, peer).data]));
    assert.equal(new Set(maps).size, 1, maps.join("\n"));
    cluster.checkSafety(); // log matching over every durable log

    const oks = history.filter((op) => op.outcome === "ok").length;
    assert.ok(oks > 100, `the clients got answers through the faults: ${oks}`);
    const result = checkLinearizability(history);
    assert.equal(result.linearizable, true, formatHistory(result.counterexample ?? []));
    await cluster.shutdownAll();
  });
  // #endregion test

  // #region violation
  it("the checker rejects a stale read, and prints the operations that prove it", () => {
    const history: RegisterOperation[] = [
      {
        client: 1,
        key: "a",
        input: { type: "exchange", value: 5n },
        outcome: "ok",
        output: { previous: 0n },
        callMs: 0,
        returnMs: 10,
      },
      // Begins after the write returned, yet sees the value from before it: a stale read.
      {
        client: 2,
        key: "a",
        input: { type: "get" },
        outcome: "ok",
        output: { previous: 0n },
        callMs: 20,
        returnMs: 30,
      },
    ];
    const result = checkLinearizability(history);
    assert.equal(result.linearizable, false);
    assert.equal(result.failingKey, "a");
    assert.match(formatHistory(result.counterexample ?? []), /get/);
  });
  // #endregion violation
});
