/**
 * Scenarios in the style of braft's test_node.cpp, on the simulator (virtual time: no sleeps,
 * no flakiness, and every timing assertion is exact).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import { ANY_PEER } from "../../src/node/peer-id.js";
import type { Iterator } from "../../src/node/iterator.js";
import type { StateMachine } from "../../src/node/state-machine.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, converge, rejectionOf } from "./helpers.js";

async function applyMany(cluster: SimCluster, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    const result = await cluster.applyAndWait(bytes(`${prefix}${i}`));
    assert.ok(result.index > 0);
  }
}

test("SingleNode: a lone voter leads at once and applies", async () => {
  const cluster = new SimCluster({ seed: 1, nodes: 1 });
  await cluster.startAll();
  const leader = await cluster.waitForLeader(100);
  assert.equal(leader, cluster.peers[0], "elected without waiting for an election timeout");
  await applyMany(cluster, 10, "single");
  const status = cluster.node(leader as string).getStatus();
  assert.equal(status.state, "LEADER");
  assert.equal(status.appliedIndex, 11, "10 entries after the leader's configuration entry");
  await converge(cluster);
  await cluster.shutdownAll();
});

test("NoLeader: with only one of three peers up, applies fail with EPERM", async () => {
  const cluster = new SimCluster({ seed: 2, nodes: 3 });
  await cluster.start(cluster.peers[0] as string);
  await cluster.scheduler.runFor(5000);
  assert.equal(cluster.leader(), undefined);
  const node = cluster.node(cluster.peers[0] as string);
  const error = await rejectionOf(cluster.settle(node.apply(bytes("x"))));
  assert.equal(error.code, "EPERM");
  assert.equal(error.leaderId, undefined);
  await cluster.shutdownAll();
});

test("TripleNode: a leader is elected, and every node applies every entry", async () => {
  const cluster = new SimCluster({ seed: 3, nodes: 3 });
  await cluster.startAll();
  const leader = await cluster.waitForLeader();
  assert.ok(leader !== undefined);
  await applyMany(cluster, 20, "triple");
  await converge(cluster);
  for (const peer of cluster.peers) assert.equal(cluster.node(peer).getStatus().appliedIndex, 21);
  const follower = cluster.peers.find((peer) => peer !== leader) as string;
  const error = await rejectionOf(cluster.settle(cluster.node(follower).apply(bytes("x"))));
  assert.equal(error.code, "EPERM");
  assert.equal(error.leaderId, leader, "a follower redirects to the leader");
  await cluster.shutdownAll();
});

test("LeaderFail: a new leader takes over; the old one returns, then returns with a wiped disk", async () => {
  const cluster = new SimCluster({ seed: 4, nodes: 3 });
  await cluster.startAll();
  const first = (await cluster.waitForLeader()) as string;
  await applyMany(cluster, 10, "before");
  cluster.crash(first);
  const second = await cluster.waitForLeader();
  assert.ok(second !== undefined && second !== first, "another node leads");
  await applyMany(cluster, 10, "during");
  await cluster.start(first);
  await converge(cluster);
  assert.equal(cluster.node(first).getStatus().appliedIndex, cluster.node(second).getStatus().appliedIndex);

  await cluster.stop(first);
  cluster.wipe(first);
  await applyMany(cluster, 5, "wiped");
  await cluster.start(first);
  await converge(cluster);
  assert.equal(
    cluster.process(first).disk.snapshotOfLog().length,
    cluster.node(second).getStatus().lastIndex,
  );
  await cluster.shutdownAll();
});

test("LeaderShouldNotChange: a healthy cluster keeps its leader", async () => {
  const cluster = new SimCluster({ seed: 5, nodes: 5, network: { minDelayMs: 1, maxDelayMs: 20 } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const term = cluster.node(leader).term;
  for (let second = 0; second < 30; second++) {
    await cluster.scheduler.runFor(1000);
    assert.equal(cluster.leader(), leader);
    assert.equal(cluster.node(leader).term, term);
  }
  await cluster.shutdownAll();
});

test("InitShutdown: shutdown is idempotent, nothing hangs, and later applies fail", async () => {
  const cluster = new SimCluster({ seed: 6, nodes: 3 });
  await cluster.startAll();
  await cluster.waitForLeader();
  const peer = cluster.peers[0] as string;
  const node = cluster.node(peer);
  await cluster.settle(Promise.all([node.shutdown(), node.shutdown()]));
  assert.equal(node.getStatus().state, "SHUTDOWN");
  const error = await rejectionOf(node.apply(bytes("late")));
  assert.equal(error.code, "ESHUTDOWN");
  await assert.rejects(node.init({} as never), (e: unknown) => RaftError.is(e) && e.code === "EINVAL");
  await cluster.shutdownAll();
});

test("ShutdownDuringInit: init rejects with ESHUTDOWN and the node never runs", async () => {
  const cluster = new SimCluster({ seed: 8, nodes: 3 });
  const peer = cluster.peers[0] as string;
  const starting = cluster.start(peer).then(
    () => undefined,
    (error: unknown) => error,
  );
  const node = cluster.node(peer);
  const stopping = node.shutdown();
  const initError = await starting;
  assert.ok(RaftError.is(initError), `init must fail, got ${String(initError)}`);
  assert.equal(initError.code, "ESHUTDOWN");
  await cluster.settle(stopping);
  assert.equal(node.getStatus().state, "SHUTDOWN");
  await cluster.scheduler.runFor(5000);
  assert.equal(node.getStatus().state, "SHUTDOWN", "no election timer runs after shutdown");
  assert.equal((await rejectionOf(node.apply(bytes("late")))).code, "ESHUTDOWN");
  await cluster.shutdownAll();
});

test("InitErrors: bad options reject init with EINVAL", async () => {
  const cluster = new SimCluster({ seed: 7, nodes: 1 });
  const { RaftNode } = await import("../../src/node/raft-node.js");
  const node = new RaftNode("g", "127.0.0.1:8000:0");
  const error = await rejectionOf(node.init({ fsm: {} as StateMachine, server: cluster.network.host("x") }));
  assert.equal(error.code, "EINVAL");
  assert.throws(
    () => new RaftNode("g", "not-a-peer"),
    (e: unknown) => RaftError.is(e) && e.code === "EINVAL",
  );
  await node.shutdown();
});

test("StateMachineError: setErrorAndRollback stops the node and later applies fail", async () => {
  const errors: RaftError[] = [];
  const poisoned = (): StateMachine => ({
    onApply(iter: Iterator) {
      for (; iter.valid(); iter.next()) {
        if (new TextDecoder().decode(iter.data) === "poison") {
          iter.setErrorAndRollback();
          return;
        }
        iter.done?.run({ ok: () => true } as never);
      }
    },
    onError(error) {
      errors.push(error);
    },
  });
  const cluster = new SimCluster({ seed: 8, nodes: 1, fsmFactory: poisoned });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("fine"));
  const node = cluster.node(leader);
  const poison = await rejectionOf(cluster.settle(node.apply(bytes("poison"))));
  assert.equal(poison.code, "ESTATEMACHINE");
  assert.equal(node.getStatus().state, "ERROR");
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.code, "ESTATEMACHINE");
  assert.equal(node.getStatus().appliedIndex, 2, "the poisoned entry was rolled back");
  const later = await rejectionOf(node.apply(bytes("after")));
  assert.equal(later.code, "EPERM");
  await cluster.shutdownAll();
});

test("ApplyOptions: expectedTerm mismatch fails with EPERM as braft; an aborted apply with ECANCELED", async () => {
  const cluster = new SimCluster({ seed: 9, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const node = cluster.node(leader);
  const stale = await rejectionOf(cluster.settle(node.apply(bytes("x"), { expectedTerm: node.term + 1 })));
  assert.equal(stale.code, "EPERM");
  assert.match(stale.message, /expected_term=\d+ doesn't match current_term=\d+/);
  const ok = await cluster.settle(node.apply(bytes("y"), { expectedTerm: node.term }));
  assert.ok(ok.index > 0);
  const aborted = await rejectionOf(node.apply(bytes("z"), { signal: AbortSignal.abort() }));
  assert.equal(aborted.code, "ECANCELED");
  await cluster.shutdownAll();
});

test("Callbacks: onLeaderStart/Stop and onStartFollowing arrive in order", async () => {
  const events: string[] = [];
  const fsm = (peer: string): StateMachine => ({
    onApply(iter) {
      for (; iter.valid(); iter.next());
    },
    onLeaderStart: (term) => void events.push(`${peer} leaderStart ${term}`),
    onLeaderStop: () => void events.push(`${peer} leaderStop`),
    onStartFollowing: (ctx) => void events.push(`${peer} follow ${ctx.leaderId.toString()}`),
    onShutdown: () => void events.push(`${peer} shutdown`),
  });
  const cluster = new SimCluster({ seed: 10, nodes: 3, fsmFactory: fsm });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(500);
  assert.ok(
    events.includes(`${leader} leaderStart 1`) || events.some((e) => e.startsWith(`${leader} leaderStart`)),
  );
  const followers = cluster.peers.filter((peer) => peer !== leader);
  for (const follower of followers)
    assert.ok(events.includes(`${follower} follow ${leader}`), events.join("\n"));
  await cluster.settle(cluster.node(leader).shutdown());
  const tail = events.filter((e) => e.startsWith(leader)).slice(-2);
  assert.deepEqual(tail, [`${leader} leaderStop`, `${leader} shutdown`]);
  await cluster.shutdownAll();
});

test("StorageError: a leader whose disk fails enters ERROR, and the group moves on", async () => {
  const failing = new Set<string>();
  const errors: string[] = [];
  const cluster = new SimCluster({
    seed: 11,
    nodes: 3,
    wrapLogStorage: (peer, storage) =>
      new Proxy(storage, {
        get(target, key, receiver) {
          if (key === "appendEntries" && failing.has(peer)) {
            return () => Promise.reject(new RaftError("ENOSPC", "no space left on device"));
          }
          const value = Reflect.get(target, key, receiver) as unknown;
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
    fsmFactory: (peer, sim) => ({
      onApply(iter) {
        for (const entry of iter) sim.checker.observeApply(peer, entry.index, entry.term, entry.data);
      },
      onError: (error) => void errors.push(`${peer} ${error.code}`),
    }),
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("before"));
  failing.add(leader);
  const failed = await rejectionOf(cluster.settle(cluster.node(leader).apply(bytes("lost"))));
  assert.ok(["ENOSPC", "EPERM"].includes(failed.code), failed.code);
  assert.equal(cluster.node(leader).getStatus().state, "ERROR");
  assert.deepEqual(errors, [`${leader} ENOSPC`]);
  const later = await rejectionOf(cluster.node(leader).apply(bytes("later")));
  assert.equal(later.code, "EPERM");
  const next = await cluster.scheduler.runUntil(
    () => cluster.leader() !== undefined && cluster.leader() !== leader,
    30_000,
  );
  assert.ok(next, "another node leads");
  await cluster.applyAndWait(bytes("after"));
  // Space is back: a restart rejoins the group.
  failing.delete(leader);
  cluster.crash(leader);
  await cluster.start(leader);
  await converge(cluster);
  await cluster.shutdownAll();
});

test("TransferLeadership: the target takes over, applies are refused meanwhile, ANY_PEER picks one", async () => {
  const cluster = new SimCluster({ seed: 13, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const target = cluster.peers.find((peer) => peer !== leader) as string;
  const transfer = cluster.node(leader).transferLeadershipTo(target);
  const busy = await rejectionOf(cluster.node(leader).apply(bytes("during")));
  assert.equal(busy.code, "EBUSY");
  await cluster.settle(transfer);
  const moved = await cluster.scheduler.runUntil(() => cluster.leader() === target, 5000);
  assert.ok(moved, `the target leads: ${cluster.describe()}`);
  await cluster.applyAndWait(bytes("y")); // braft: EBUSY until the new leader's first entry commits
  await cluster.settle(cluster.node(target).transferLeadershipTo(ANY_PEER));
  await cluster.scheduler.runUntil(() => cluster.leader() !== undefined && cluster.leader() !== target, 5000);
  assert.notEqual(cluster.leader(), target);
  await cluster.applyAndWait(bytes("z"));
  const invalid = await rejectionOf(
    cluster.node(cluster.leader() as string).transferLeadershipTo("10.9.9.9:1:0"),
  );
  assert.equal(invalid.code, "EINVAL");
  await converge(cluster);
  await cluster.shutdownAll();
});

test("ShutdownHandsOver: a leader that shuts down wakes a follower, long before an election timeout", async () => {
  const cluster = new SimCluster({ seed: 14, nodes: 3, electionTimeoutMs: 1000 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(300);
  const stoppedAt = cluster.scheduler.nowMs;
  await cluster.stop(leader);
  const elected = await cluster.scheduler.runUntil(() => cluster.leader() !== undefined, 5000);
  assert.ok(elected);
  assert.ok(
    cluster.scheduler.nowMs - stoppedAt < 300,
    `new leader after ${cluster.scheduler.nowMs - stoppedAt} ms`,
  );
  await cluster.shutdownAll();
});
