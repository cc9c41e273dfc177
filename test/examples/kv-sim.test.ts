/**
 * The guide's tutorial (docs/guide.md, "Testing your state machine"): the kv example's state
 * machine in the deterministic simulator, three nodes on virtual time and a lossy network, with
 * concurrent clients while the leader is killed and a node is cut off; the recorded history is
 * checked for linearizability. The regions marked below are the guide's snippets, verbatim.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
// #region imports
import { MemoryFileSystemAdaptor, RaftError } from "../../src/index.js";
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
    // Snapshot often, so restarts and catch-up load snapshots too. Each process keeps its snapshot
    // files in memory, reached through a gate that takes virtual time and dies with the process.
    snapshots: { intervalS: 2, fileSystem: () => new MemoryFileSystemAdaptor() },
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

// #region scenario
/** Twenty seconds of virtual time under clients and faults, then healed until members catch up. */
async function runScenario(seed: number): Promise<{ cluster: SimCluster; history: RegisterOperation[] }> {
  const cluster = createCluster(seed);
  await cluster.startAll();
  const untilMs = cluster.scheduler.nowMs + 20_000;
  const history: RegisterOperation[] = [];
  const clients = Promise.all([1, 2, 3].map((client) => runClient(cluster, client, untilMs, history)));
  await runNemesis(cluster, untilMs);
  await cluster.settle(clients, 60_000);
  // The network still loses 2% of messages: a lost install_snapshot (or its answer) costs its
  // 10-s timeout, and a follower may need a few in a row.
  await cluster.scheduler.runUntil(() => appliedAlike(cluster), 60_000);
  return { cluster, history };
}

/**
 * The leader committed its whole log and every node applied exactly that far. (Each node having
 * applied what the leader committed is not enough to compare maps: a new leader's commit index
 * lags behind its followers' until it commits an entry of its own term.)
 */
function appliedAlike(cluster: SimCluster): boolean {
  const leader = cluster.leader();
  if (leader === undefined) return false;
  const { lastIndex, committedIndex } = cluster.node(leader).getStatus();
  const applied = cluster.running().map((peer) => cluster.node(peer).getStatus().appliedIndex);
  return committedIndex === lastIndex && applied.every((index) => index === lastIndex);
}

/** Every node applied the same entries and holds the same map, the logs match, the history is linearizable. */
function checkRun(cluster: SimCluster, history: RegisterOperation[]): void {
  assert.ok(appliedAlike(cluster), cluster.describe());
  const maps = cluster.running().map((peer) => JSON.stringify([...fsmOf(cluster, peer).data]));
  assert.equal(new Set(maps).size, 1, maps.join("\n"));
  cluster.checkSafety(); // log matching over every durable log
  const result = checkLinearizability(history);
  assert.equal(result.linearizable, true, formatHistory(result.counterexample ?? []));
}
// #endregion scenario

/** A hash of what a run shows: the history, every replica's applied index and map, time and events. */
function fingerprint(cluster: SimCluster, history: RegisterOperation[]): string {
  const hash = createHash("sha256");
  hash.update(
    JSON.stringify(history, (_key, value: unknown) => (typeof value === "bigint" ? `${value}n` : value)),
  );
  for (const peer of cluster.peers) {
    const fsm = cluster.process(peer).fsm as KvStateMachine | undefined;
    hash.update(JSON.stringify([peer, fsm?.appliedIndex ?? "down", [...(fsm?.data ?? [])]]));
  }
  hash.update(`${cluster.scheduler.nowMs} ${cluster.scheduler.eventsRun}`);
  return hash.digest("hex");
}

/**
 * Seeds of the optional sweep, from `TSRAFT_KV_SIM_SEEDS=first-last` (e.g. `1-200`); none by
 * default. Each seed runs the tutorial's scenario and its checks, and prints its fingerprint.
 */
function sweepSeeds(): number[] {
  const match = /^(\d+)-(\d+)$/.exec(process.env["TSRAFT_KV_SIM_SEEDS"] ?? "");
  if (match === null) return [];
  const [first, last] = [Number(match[1]), Number(match[2])];
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}

describe("the guide's simulator tutorial: KvStateMachine", () => {
  // #region test
  it("stays linearizable and converges while leaders crash and nodes are cut off (seed 7)", async () => {
    const { cluster, history } = await runScenario(7);
    checkRun(cluster, history);
    const oks = history.filter((op) => op.outcome === "ok").length;
    assert.ok(oks > 100, `the clients got answers through the faults: ${oks}`);
    await cluster.shutdownAll();
  });
  // #endregion test

  for (const seed of [7, 8]) {
    it(`replays seed ${seed} exactly: the same history, maps, virtual end time and event count twice in one process`, async () => {
      const runs = [await runScenario(seed), await runScenario(seed)];
      const [first, second] = runs.map(({ cluster, history }) => fingerprint(cluster, history));
      assert.equal(second, first);
      for (const { cluster } of runs) await cluster.shutdownAll();
    });
  }

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

describe("KvStateMachine in the simulator, seeds of TSRAFT_KV_SIM_SEEDS", () => {
  for (const seed of sweepSeeds()) {
    it(`seed ${seed}: linearizable, every node applies the same entries and holds the same map`, async (t) => {
      const { cluster, history } = await runScenario(seed);
      t.diagnostic(`fingerprint ${fingerprint(cluster, history)} at ${cluster.scheduler.nowMs} ms`);
      checkRun(cluster, history);
      await cluster.shutdownAll();
    });
  }
});
