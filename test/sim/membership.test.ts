/** Membership changes after braft's test_node.cpp (AddPeer, RemovePeer, ChangePeers...). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, codeOf, converge } from "./helpers.js";

test("AddPeer: a new node catches up and joins; adding it again succeeds", async () => {
  const cluster = new SimCluster({ seed: 51, nodes: 4, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  for (let i = 0; i < 20; i++) await cluster.applyAndWait(bytes(`a${i}`));
  const newcomer = cluster.peers[3] as string;
  await cluster.start(newcomer);
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).addPeer(newcomer))), "OK");
  assert.deepEqual(cluster.node(leader).listPeers().map(String), [...cluster.peers].sort());
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).addPeer(newcomer))), "OK", "already present");
  await cluster.applyAndWait(bytes("after"));
  await converge(cluster);
  await cluster.shutdownAll();
});

test("RemovePeer: a removed follower is dropped; a removed leader steps down and a new one leads", async () => {
  const cluster = new SimCluster({ seed: 52, nodes: 4 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const follower = cluster.peers.find((peer) => peer !== leader) as string;
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).removePeer(follower))), "OK");
  assert.ok(!cluster.node(leader).listPeers().map(String).includes(follower));
  await cluster.stop(follower);
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).removePeer(leader))), "OK");
  const next = await cluster.scheduler.runUntil(
    () => cluster.leader() !== undefined && cluster.leader() !== leader,
    5000,
  );
  assert.ok(next, `a remaining peer leads: ${cluster.describe()}`);
  await cluster.stop(leader);
  await cluster.applyAndWait(bytes("y"));
  await converge(cluster);
  await cluster.shutdownAll();
});

test("ChangePeers: a joint change replaces two peers at once; errors are braft's", async () => {
  const cluster = new SimCluster({ seed: 53, nodes: 5, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const follower = cluster.peers.slice(0, 3).find((peer) => peer !== leader) as string;
  assert.equal(
    await codeOf(cluster.settle(cluster.node(follower).changePeers(cluster.peers.slice(0, 3)))),
    "EPERM",
  );
  const [, , , d, e] = cluster.peers as [string, string, string, string, string];
  // d and e are not running: they cannot catch up.
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).changePeers([leader, d, e]))), "ECATCHUP");
  await cluster.start(d);
  await cluster.start(e);
  const change = cluster.node(leader).changePeers([leader, d, e]);
  assert.equal(await codeOf(cluster.node(leader).changePeers([leader, d])), "EBUSY");
  assert.equal(await codeOf(cluster.settle(change)), "OK");
  assert.deepEqual(cluster.node(leader).listPeers().map(String), [leader, d, e].sort());
  for (const peer of cluster.peers.slice(0, 3)) if (peer !== leader) await cluster.stop(peer);
  await cluster.applyAndWait(bytes("after"));
  await converge(cluster);
  await cluster.shutdownAll();
});

test("Learners: a learner receives the log but never votes; removing it stops its replication", async () => {
  const cluster = new SimCluster({ seed: 54, nodes: 4, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  const learner = cluster.peers[3] as string;
  await cluster.start(learner);
  await cluster.applyAndWait(bytes("x")); // until its first entry commits, a leader is busy (braft too)
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).addLearners([learner]))), "OK");
  await cluster.applyAndWait(bytes("y"));
  const caughtUp = await cluster.scheduler.runUntil(
    () => cluster.node(learner).getStatus().appliedIndex === cluster.node(leader).getStatus().appliedIndex,
    5000,
  );
  assert.ok(caughtUp, cluster.describe());
  assert.deepEqual(cluster.node(leader).getStatus().learners, [learner]);
  assert.equal(cluster.node(leader).listPeers().length, 3, "a learner is not a peer");
  // The learner never campaigns, even when it hears from nobody.
  cluster.network.partition([[learner], cluster.peers.slice(0, 3)]);
  await cluster.scheduler.runFor(5000);
  assert.equal(cluster.node(learner).getStatus().state, "FOLLOWER");
  cluster.network.heal();
  assert.equal(
    await codeOf(cluster.settle(cluster.node(cluster.leader() as string).removeLearners([learner]))),
    "OK",
  );
  await cluster.shutdownAll();
});

test("ResetPeers: the survivor of a lost majority resets to itself and leads again", async () => {
  const cluster = new SimCluster({ seed: 55, nodes: 3 });
  await cluster.startAll();
  await cluster.waitForLeader();
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(500);
  const [survivor, ...lost] = cluster.peers as [string, ...string[]];
  for (const peer of lost) cluster.crash(peer);
  await cluster.scheduler.runFor(3000);
  assert.equal(cluster.leader(), undefined, "no quorum, no leader");
  assert.equal(await codeOf(cluster.settle(cluster.node(survivor).resetPeers([survivor]))), "OK");
  const leads = await cluster.scheduler.runUntil(() => cluster.leader() === survivor, 5000);
  assert.ok(leads, cluster.describe());
  await cluster.applyAndWait(bytes("after reset"));
  assert.deepEqual(cluster.node(survivor).listPeers().map(String), [survivor]);
  await cluster.shutdownAll();
});

test("leader_transfer_resume_on_failure: a target that never takes over leaves the leader leading", async () => {
  const cluster = new SimCluster({ seed: 56, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const target = cluster.peers.find((peer) => peer !== leader) as string;
  cluster.network.cutOneWay(leader, target); // TimeoutNow never arrives
  assert.equal(
    await codeOf(cluster.settle(cluster.node(leader).transferLeadershipTo(target))),
    "ERAFTTIMEDOUT",
  );
  cluster.network.heal();
  assert.equal(cluster.leader(), leader, "the old leader resumed");
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).apply(bytes("after")))), "OK");
  await cluster.shutdownAll();
});

test("transfer_should_work_after_install_snapshot: a follower that installed a snapshot can take over", async () => {
  const cluster = new SimCluster({ seed: 57, nodes: 3, snapshots: { intervalS: 0, logMarginEntries: 0 } });
  try {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    const follower = cluster.peers.find((peer) => peer !== leader) as string;
    await cluster.stop(follower);
    cluster.wipe(follower);
    for (let i = 0; i < 10; i++) await cluster.applyAndWait(bytes(`a${i}`));
    await cluster.settle(cluster.node(leader).snapshot());
    await cluster.start(follower);
    await cluster.scheduler.runUntil(() => cluster.node(follower).getStatus().lastSnapshotIndex > 0, 10_000);
    assert.equal(await codeOf(cluster.settle(cluster.node(leader).transferLeadershipTo(follower))), "OK");
    assert.ok(await cluster.scheduler.runUntil(() => cluster.leader() === follower, 5000));
    await converge(cluster);
    await cluster.shutdownAll();
  } finally {
    cluster.dispose();
  }
});

test("change_peers_steps_down_in_joint_consensus: a leader outside the new half steps down at the end", async () => {
  const cluster = new SimCluster({ seed: 58, nodes: 5, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const stay = cluster.peers.slice(0, 3).find((peer) => peer !== leader) as string;
  const [, , , d, e] = cluster.peers as [string, string, string, string, string];
  await cluster.start(d);
  await cluster.start(e);
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).changePeers([stay, d, e]))), "OK");
  const moved = await cluster.scheduler.runUntil(
    () => cluster.leader() !== undefined && cluster.leader() !== leader,
    5000,
  );
  assert.ok(moved, cluster.describe());
  assert.ok([stay, d, e].includes(cluster.leader() as string));
  await cluster.shutdownAll();
});

test("leader_transfer_before_log_is_completed: the target catches up first, then takes over", async () => {
  const cluster = new SimCluster({ seed: 59, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const target = cluster.peers.find((peer) => peer !== leader) as string;
  cluster.network.cutOneWay(leader, target);
  for (let i = 0; i < 10; i++) await cluster.applyAndWait(bytes(`behind${i}`));
  const transfer = cluster.node(leader).transferLeadershipTo(target);
  await cluster.scheduler.runFor(100);
  assert.equal(cluster.leader(), leader, "no TimeoutNow while the target lacks entries");
  cluster.network.heal();
  assert.equal(await codeOf(cluster.settle(transfer)), "OK");
  assert.ok(await cluster.scheduler.runUntil(() => cluster.leader() === target, 5000));
  assert.equal(cluster.node(target).getStatus().lastIndex >= 11, true, "it took over with the whole log");
  await cluster.shutdownAll();
});

test("removing_leader_triggers_timeout_now and on_stop_following: the group re-elects within a round trip", async () => {
  const stopped: string[] = [];
  const cluster = new SimCluster({
    seed: 60,
    nodes: 3,
    fsmFactory: (peer, sim) => ({
      onApply(iter) {
        for (const entry of iter) sim.checker.observeApply(peer, entry.index, entry.term, entry.data);
      },
      onStopFollowing: (ctx) => void stopped.push(`${peer} stops following ${ctx.leaderId.toString()}`),
    }),
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(300);
  const started = cluster.scheduler.nowMs;
  assert.equal(await codeOf(cluster.settle(cluster.node(leader).removePeer(leader))), "OK");
  assert.ok(
    await cluster.scheduler.runUntil(
      () => cluster.leader() !== undefined && cluster.leader() !== leader,
      5000,
    ),
  );
  assert.ok(
    cluster.scheduler.nowMs - started < 500,
    `re-elected after ${cluster.scheduler.nowMs - started} ms`,
  );
  assert.ok(
    stopped.some((line) => line.endsWith(`stops following ${leader}`)),
    stopped.join("; "),
  );
  await cluster.shutdownAll();
});
