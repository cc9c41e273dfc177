/**
 * Leader leases around leadership transfer, vote() and resetElectionTimeoutMs (issue 14, items 1,
 * 2, 3 and 6), after braft's test_node.cpp / test_leader_lease.cpp scenarios.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PeerKey } from "../../src/core/types.js";
import { RaftError } from "../../src/core/errors.js";
import type { StateMachine } from "../../src/node/state-machine.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, codeOf, converge } from "./helpers.js";

/** What a state machine heard about leadership, in order ("start:<term>", "stop:<code>"). */
type LeaderEvents = Map<PeerKey, string[]>;

/** A state machine that records leadership callbacks and applies nothing else. */
function leaderRecordingFsm(events: LeaderEvents, peer: PeerKey): StateMachine {
  const mine = events.get(peer) ?? [];
  events.set(peer, mine);
  return {
    onApply: (iter) => {
      for (const entry of iter) entry.done?.setResult?.(entry.index);
    },
    onLeaderStart: (term) => {
      mine.push(`start:${term}`);
    },
    onLeaderStop: (status) => {
      mine.push(`stop:${status.errorCode === 0 ? "OK" : (status.toError().code as string)}`);
    },
  };
}

/**
 * Runs the cluster in small steps for `durationMs` while `oldLeader` may still believe it leads:
 * each step reads through `oldLeader` (readIndex) and, once another node leads a newer term,
 * writes through it once. Returns what broke linearizability: a step where the old leader
 * reported a valid lease while a newer leader existed, or a read through the old leader that
 * resolved below an index the newer leader had already acknowledged.
 */
async function watchOldLeader(
  cluster: SimCluster,
  oldLeader: PeerKey,
  durationMs: number,
): Promise<{ overlaps: string[]; staleReads: string[]; newLeaderAck: number | undefined }> {
  const startTerm = cluster.node(oldLeader).term;
  const overlaps: string[] = [];
  const staleReads: string[] = [];
  let ackIndex: number | undefined;
  let wrote = false;
  const stepMs = 2;
  for (let elapsed = 0; elapsed < durationMs; elapsed += stepMs) {
    const old = cluster.node(oldLeader);
    const newer = cluster.peers.find(
      (peer) => peer !== oldLeader && cluster.node(peer).isLeader() && cluster.node(peer).term > startTerm,
    );
    if (newer !== undefined && old.isLeaderLeaseValid()) overlaps.push(`t+${elapsed}: ${newer} leads`);
    if (newer !== undefined && !wrote) {
      wrote = true;
      cluster.apply(newer, bytes("written by the new leader")).then(
        (result) => (ackIndex = result.index),
        () => undefined,
      );
    }
    if (old.isLeader()) {
      old.readIndex({ timeoutMs: 300 }).then(
        (read) => {
          if (ackIndex !== undefined && read.index < ackIndex)
            staleReads.push(`read at ${read.index} after the new leader acknowledged ${ackIndex}`);
        },
        () => undefined,
      );
    }
    await cluster.scheduler.runFor(stepMs);
  }
  return { overlaps, staleReads, newLeaderAck: ackIndex };
}

test("LeaderLeaseDuringTransfer: a transfer ends the lease at once; a target cut from the leader cannot take over under it", async () => {
  const events: LeaderEvents = new Map();
  const cluster = new SimCluster({
    seed: 1401,
    nodes: 3,
    flags: { raft_enable_leader_lease: true },
    fsmFactory: (peer) => leaderRecordingFsm(events, peer),
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(200);
  const node = cluster.node(leader);
  assert.equal(node.isLeaderLeaseValid(), true);
  const target = cluster.peers.find((peer) => peer !== leader) as PeerKey;
  cluster.network.cutOneWay(target, leader);
  const transfer = codeOf(node.transferLeadershipTo(target));
  const leaseAtStart = node.isLeaderLeaseValid();
  const watched = await watchOldLeader(cluster, leader, 1500);
  assert.deepEqual(watched.overlaps, [], "no newer leader while the old one trusted its lease");
  assert.deepEqual(watched.staleReads, [], "no read through the old leader missed a newer write");
  assert.equal(leaseAtStart, false, "the lease ended when the transfer started");
  assert.equal(await cluster.settle(transfer), "ERAFTTIMEDOUT", "the target could not take over");
  assert.equal(node.isLeader(), true, "the old leader leads on");
  await cluster.scheduler.runFor(200);
  assert.equal(node.isLeaderLeaseValid(), true, "its lease is back once the transfer timed out");
  const term = node.term;
  assert.deepEqual(events.get(leader)?.slice(-3), [
    `start:${term}`,
    "stop:ETRANSFERLEADERSHIP",
    `start:${term}`,
  ]);
  cluster.network.heal();
  await cluster.shutdownAll();
});

/**
 * Five voters with leases, one write, then a transfer from the leader to another voter, watched
 * for 600 ms (watchOldLeader); returns the transfer's outcome.
 */
async function transferWithLease(seed: number): Promise<{
  cluster: SimCluster;
  target: PeerKey;
  code: string;
  watched: Awaited<ReturnType<typeof watchOldLeader>>;
}> {
  const cluster = new SimCluster({ seed, nodes: 5, flags: { raft_enable_leader_lease: true } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  const target = cluster.peers.find((peer) => peer !== leader) as PeerKey;
  const transfer = codeOf(cluster.node(leader).transferLeadershipTo(target));
  const watched = await watchOldLeader(cluster, leader, 600);
  return { cluster, target, code: await cluster.settle(transfer), watched };
}

test("TransferLeadershipWithLease: the target takes over after disrupting the old leader", async () => {
  const { cluster, target, code, watched } = await transferWithLease(1402);
  assert.equal(code, "OK");
  assert.deepEqual(watched.overlaps, []);
  assert.deepEqual(watched.staleReads, []);
  assert.equal(cluster.leader(), target);
  await cluster.applyAndWait(bytes("y"));
  await converge(cluster);
  await cluster.shutdownAll();
});

test("TransferTargetAnswersDeposedLeader: 5 voters with leases, seeds 1-30: a transfer that deposed its leader through an answer's newer term, before the target's vote reached it, still elects the target", async () => {
  // The old leader learned the target's term from the answer to one of its appends and stepped
  // down; it then answered the target's vote as a plain follower, so the target never learned
  // that the leader was gone and the other followers kept refusing by lease (22 of 60 seeds).
  const stuck: string[] = [];
  for (let seed = 1; seed <= 30; seed++) {
    const { cluster, target, code, watched } = await transferWithLease(seed);
    assert.deepEqual([watched.overlaps, watched.staleReads], [[], []], `seed ${seed}`);
    if (code !== "OK" || cluster.leader() !== target)
      stuck.push(`seed ${seed}: ${code}, ${cluster.describe()}`);
    await cluster.shutdownAll();
  }
  assert.deepEqual(stuck, []);
});

test("TransferLeadershipDuringChange: refused with EBUSY while a configuration change runs", async () => {
  const cluster = new SimCluster({ seed: 1403, nodes: 4, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  const newcomer = cluster.peers[3] as PeerKey; // never started: the change waits for its catch-up
  const change = codeOf(cluster.node(leader).addPeer(newcomer));
  await cluster.scheduler.runFor(50);
  const follower = cluster.peers.find((peer) => peer !== leader && peer !== newcomer) as PeerKey;
  assert.equal(await cluster.settle(codeOf(cluster.node(leader).transferLeadershipTo(follower))), "EBUSY");
  assert.equal(await cluster.settle(change), "ECATCHUP");
  assert.equal(cluster.node(leader).isLeader(), true);
  const transfer = codeOf(cluster.node(leader).transferLeadershipTo(follower));
  const change2 = cluster.settle(codeOf(cluster.node(leader).addPeer(newcomer)));
  assert.equal(await change2, "EBUSY", "and no change during a transfer");
  assert.equal(await cluster.settle(transfer), "OK");
  await cluster.shutdownAll();
});

test("ResetElectionTimeoutKeepsLease: followers that shorten their timeout cannot elect under the old lease", async () => {
  const cluster = new SimCluster({
    seed: 1404,
    nodes: 3,
    maxClockDriftMs: 100,
    flags: { raft_enable_leader_lease: true },
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  await cluster.scheduler.runFor(200);
  const followers = cluster.peers.filter((peer) => peer !== leader);
  for (const peer of followers) cluster.node(peer).resetElectionTimeoutMs(200);
  cluster.network.cutOneWay(leader, followers[0] as PeerKey);
  cluster.network.cutOneWay(leader, followers[1] as PeerKey);
  const watched = await watchOldLeader(cluster, leader, 2500);
  assert.deepEqual(watched.overlaps, [], "no newer leader while the old one trusted its lease");
  assert.deepEqual(watched.staleReads, []);
  assert.ok(watched.newLeaderAck !== undefined, "the followers did elect a leader, after the lease");
  cluster.network.heal();
  await converge(cluster);
  await cluster.shutdownAll();
});

test("ResetElectionTimeoutMs: EINVAL above election timeout + max clock drift; the difference moves into the drift", async () => {
  const cluster = new SimCluster({ seed: 1405, nodes: 3, flags: { raft_enable_leader_lease: true } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  const node = cluster.node(leader);
  const einval = (run: () => void): boolean => {
    try {
      run();
      return false;
    } catch (error) {
      return RaftError.is(error) && error.code === "EINVAL";
    }
  };
  assert.ok(
    einval(() => node.resetElectionTimeoutMs(2001)),
    "1000 + 1000 is the threshold",
  );
  assert.ok(einval(() => node.resetElectionTimeoutMs(0)));
  node.resetElectionTimeoutMs(300);
  assert.ok(
    einval(() => node.resetElectionTimeoutMs(2001)),
    "the threshold stays 2000",
  );
  node.resetElectionTimeoutMs(2000);
  node.resetElectionTimeoutMs(500, 200);
  assert.ok(
    einval(() => node.resetElectionTimeoutMs(701)),
    "now 500 + 200",
  );
  assert.ok(einval(() => node.resetElectionTimeoutMs(500, -1)));
  await cluster.shutdownAll();
});

for (const lease of [true, false]) {
  test(`TriggerVote (lease ${lease ? "on" : "off"}): vote() moves leadership to a follower of a healthy group`, async () => {
    const cluster = new SimCluster({ seed: 1406, nodes: 5, flags: { raft_enable_leader_lease: lease } });
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as PeerKey;
    await cluster.applyAndWait(bytes("x"));
    await cluster.scheduler.runFor(300);
    const chosen = cluster.peers.find((peer) => peer !== leader) as PeerKey;
    const refused = (peer: PeerKey, ms: number, code: string): void =>
      assert.throws(
        () => cluster.node(peer).vote(ms),
        (e: unknown) => RaftError.is(e) && e.code === code,
      );
    refused(leader, 1000, "EPERM");
    refused(chosen, 2001, "EINVAL");
    cluster.node(chosen).vote(1000);
    const watched = await watchOldLeader(cluster, leader, 1000);
    assert.equal(cluster.leader(), chosen, `the follower leads: ${cluster.describe()}`);
    assert.deepEqual(watched.overlaps, []);
    assert.deepEqual(watched.staleReads, []);
    await cluster.applyAndWait(bytes("y"));
    await converge(cluster);
    await cluster.shutdownAll();
  });
}

test("GetLeaderLeaseStatus: DISABLED, VALID with its epoch, EXPIRED off the leader and during a transfer, SUSPECT once isolated", async () => {
  const off = new SimCluster({ seed: 1407, nodes: 3 });
  await off.startAll();
  const offLeader = (await off.waitForLeader()) as PeerKey;
  assert.equal(off.node(offLeader).getLeaderLeaseStatus().state, "DISABLED");
  await off.shutdownAll();

  const cluster = new SimCluster({ seed: 1408, nodes: 3, flags: { raft_enable_leader_lease: true } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  const node = cluster.node(leader);
  const valid = node.getLeaderLeaseStatus();
  assert.deepEqual(valid, { state: "VALID", term: node.term, leaseEpoch: valid.leaseEpoch });
  assert.ok(valid.leaseEpoch > 0);
  const follower = cluster.peers.find((peer) => peer !== leader) as PeerKey;
  assert.deepEqual(cluster.node(follower).getLeaderLeaseStatus(), {
    state: "EXPIRED",
    term: 0,
    leaseEpoch: 0,
  });

  cluster.network.cutOneWay(follower, leader); // the transfer cannot succeed
  const transfer = codeOf(node.transferLeadershipTo(follower));
  assert.equal(node.getLeaderLeaseStatus().state, "EXPIRED", "a transfer ends the lease");
  assert.equal(await cluster.settle(transfer), "ERAFTTIMEDOUT");
  const resumed = node.getLeaderLeaseStatus();
  assert.equal(resumed.state, "VALID");
  assert.ok(resumed.leaseEpoch > valid.leaseEpoch, "a new lease after the failed transfer");
  cluster.network.heal();

  cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
  const suspect = await cluster.scheduler.runUntil(
    () => node.isLeader() && node.getLeaderLeaseStatus().state === "SUSPECT",
    2000,
  );
  assert.ok(suspect, "an isolated leader's lease runs out before it steps down");
  cluster.network.heal();
  await cluster.shutdownAll();
});

test("FollowerRestartKeepsLease: a follower restarted within the lease does not vote at once", async () => {
  const cluster = new SimCluster({ seed: 1409, nodes: 3, flags: { raft_enable_leader_lease: true } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as PeerKey;
  await cluster.applyAndWait(bytes("x"));
  const [restarted, lonely] = cluster.peers.filter((peer) => peer !== leader) as [PeerKey, PeerKey];
  // `lonely` and the leader lose each other, so `lonely` campaigns once its own lease runs out;
  // the leader's lease then rests on `restarted` alone.
  cluster.network.cutOneWay(leader, lonely);
  cluster.network.cutOneWay(lonely, leader);
  await cluster.scheduler.runFor(1900);
  cluster.crash(restarted);
  cluster.network.cutOneWay(leader, restarted); // nothing renews its lease after the restart
  await cluster.start(restarted);
  const watched = await watchOldLeader(cluster, leader, 2500);
  assert.deepEqual(watched.overlaps, [], "no newer leader while the old one trusted its lease");
  assert.deepEqual(watched.staleReads, []);
  cluster.network.heal();
  await converge(cluster);
  await cluster.shutdownAll();
});
