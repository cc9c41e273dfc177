/**
 * Quiet groups and the inputs that wake one follower alone (docs/quiescence.md, "Stray wakes"):
 * a stale vote request, a duplicated old heartbeat, a resetElectionTimeoutMs call. The follower
 * re-arms its election timer; its quiet leader must hear of it, or the follower would campaign
 * against a healthy leader an election timeout later. Also: after quiescence every quiet
 * follower has committed exactly what its leader has. Virtual time.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppendEntriesRequest } from "../../src/core/messages.js";
import type { PeerKey } from "../../src/core/types.js";
import { SimCluster, type SimClusterOptions } from "../../src/testing/sim-cluster.js";
import { bytes, converge } from "./helpers.js";

const ELECTION_TIMEOUT_MS = 1000;

/** A three-node cluster with a leader and one write, run until every node is quiet. */
async function quietCluster(options: Partial<SimClusterOptions> & { seed: number }): Promise<SimCluster> {
  const cluster = new SimCluster({ nodes: 3, quiescence: true, ...options });
  await cluster.startAll();
  assert.ok((await cluster.waitForLeader()) !== undefined, "a leader is elected");
  await cluster.applyAndWait(bytes("before"));
  await untilAllQuiet(cluster);
  return cluster;
}

async function untilAllQuiet(cluster: SimCluster, maxMs = 20_000): Promise<void> {
  const quiet = await cluster.scheduler.runUntil(
    () => cluster.running().every((peer) => cluster.node(peer).getStatus().quiet),
    maxMs,
  );
  assert.ok(quiet, `every node went quiet: ${cluster.describe()}`);
}

async function dispose(cluster: SimCluster): Promise<void> {
  await cluster.shutdownAll();
  cluster.dispose();
}

function followerOf(cluster: SimCluster, leader: PeerKey): PeerKey {
  return cluster.peers.find((peer) => peer !== leader) as PeerKey;
}

/**
 * After a stray wake of one follower: for five election timeouts nobody campaigns, not even a
 * pre-vote (every node stays the leader's follower all along, in the same term), and the group
 * is quiet again at the end.
 */
async function assertUndisturbed(cluster: SimCluster, leader: PeerKey, term: number): Promise<void> {
  let disturbed: string | undefined;
  const watch = (): boolean => {
    for (const peer of cluster.running()) {
      if (peer === leader) continue;
      const status = cluster.node(peer).getStatus();
      if (status.state !== "FOLLOWER" || status.leaderId !== leader)
        disturbed ??= `${peer} was ${status.state} following "${status.leaderId}" at ${cluster.scheduler.nowMs} ms`;
    }
    return false;
  };
  await cluster.scheduler.runUntil(watch, 5 * ELECTION_TIMEOUT_MS);
  assert.equal(disturbed, undefined, "every follower kept following the leader");
  for (const peer of cluster.peers) {
    assert.equal(cluster.node(peer).term, term, `${peer} stayed in term ${term}: ${cluster.describe()}`);
  }
  assert.equal(cluster.leader(), leader, `the leader stayed: ${cluster.describe()}`);
  await untilAllQuiet(cluster);
  await cluster.applyAndWait(bytes("after"));
  await converge(cluster);
}

test("QuietFollowerResetElectionTimeout: a quiet follower's resetElectionTimeoutMs wakes no election", async () => {
  const cluster = await quietCluster({ seed: 1911 });
  try {
    const leader = cluster.leader() as PeerKey;
    const term = cluster.node(leader).term;
    cluster.node(followerOf(cluster, leader)).resetElectionTimeoutMs(ELECTION_TIMEOUT_MS);
    await assertUndisturbed(cluster, leader, term);
  } finally {
    await dispose(cluster);
  }
});

test("QuietFollowerStaleVote: a vote request from an older term wakes no election", async () => {
  const cluster = await quietCluster({ seed: 1912 });
  try {
    const leader = cluster.leader() as PeerKey;
    const term = cluster.node(leader).term;
    const follower = followerOf(cluster, leader);
    const candidate = cluster.peers.find((peer) => peer !== leader && peer !== follower) as PeerKey;
    const request = {
      groupId: cluster.groupId,
      serverId: candidate,
      peerId: follower,
      term: term - 1,
      lastLogIndex: 1,
      lastLogTerm: 1,
      preVote: false,
    };
    const answer = await cluster.settle(
      cluster.network.host(candidate).client.requestVote(follower, request, ELECTION_TIMEOUT_MS),
    );
    assert.equal(answer.granted, false, "the stale vote is refused");
    await assertUndisturbed(cluster, leader, term);
  } finally {
    await dispose(cluster);
  }
});

test("QuietFollowerDuplicateHeartbeat: an old heartbeat of its leader delivered again wakes no election", async () => {
  let lastHeartbeat: { to: PeerKey; request: AppendEntriesRequest } | undefined;
  const cluster = new SimCluster({ seed: 1913, nodes: 3, quiescence: true });
  try {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as PeerKey;
    const follower = followerOf(cluster, leader);
    cluster.failAppend = (from, to, request) => {
      if (from === leader && to === follower && request.entries.length === 0) lastHeartbeat = { to, request };
      return undefined;
    };
    await cluster.applyAndWait(bytes("before"));
    await untilAllQuiet(cluster);
    // A read wakes the quiet leader, which heartbeats until it quiesces again (a write, or a new
    // leadership, would quiesce at the first heartbeat time without one).
    await cluster.settle(cluster.node(leader).readIndex({ timeoutMs: ELECTION_TIMEOUT_MS }));
    await untilAllQuiet(cluster);
    cluster.failAppend = undefined;
    const term = cluster.node(leader).term;
    const heartbeat = lastHeartbeat;
    assert.ok(heartbeat !== undefined, "a heartbeat was seen");
    const answer = await cluster.settle(
      cluster.network.host(leader).client.appendEntries(heartbeat.to, heartbeat.request, ELECTION_TIMEOUT_MS),
    );
    assert.equal(answer.success, true, "the duplicate is accepted: it matches the follower's log");
    await assertUndisturbed(cluster, leader, term);
  } finally {
    await dispose(cluster);
  }
});

/** Every quiet follower has the leader's last entry and commit index. */
function assertQuietCommitsMatch(cluster: SimCluster): void {
  const leader = cluster.leader();
  assert.ok(leader !== undefined, `a leader: ${cluster.describe()}`);
  const led = cluster.node(leader).getStatus();
  assert.equal(led.committedIndex, led.lastIndex, "a quiet leader has committed its whole log");
  for (const peer of cluster.running()) {
    const status = cluster.node(peer).getStatus();
    if (!status.quiet) continue;
    assert.equal(status.committedIndex, led.committedIndex, `${peer} committed what ${leader} did`);
    assert.equal(status.lastIndex, led.lastIndex, `${peer} holds ${leader}'s whole log`);
  }
}

test("QuiesceCommitMatches: after each quiescence every quiet follower has committed what the leader has, on a lossy network", async () => {
  for (const seed of [1921, 1922, 1923, 1924]) {
    const network = { lossRate: 0.05, duplicateRate: 0.05, minDelayMs: 1, maxDelayMs: 20 };
    const cluster = new SimCluster({ seed, nodes: 3, quiescence: true, network });
    try {
      await cluster.startAll();
      await cluster.waitForLeader();
      for (let round = 0; round < 5; round++) {
        const leader = cluster.leader();
        assert.ok(leader !== undefined, `a leader in round ${round}: ${cluster.describe()}`);
        const writes = [];
        for (let i = 0; i <= round; i++) writes.push(cluster.apply(leader, bytes(`r${round}w${i}`)));
        await cluster.settle(Promise.allSettled(writes));
        await untilAllQuiet(cluster, 60_000);
        assertQuietCommitsMatch(cluster);
      }
      await converge(cluster);
    } finally {
      await dispose(cluster);
    }
  }
});
