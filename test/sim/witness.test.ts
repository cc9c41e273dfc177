/**
 * Witnesses (braft's NodeOptions::witness and raft_enable_witness_to_leader, issue 20 item 1),
 * after braft's test_node.cpp `LeaderFailWithWitness` and the risks braft's raft.h and
 * docs/cn/witness.md document for each setting of the flag. Groups are 2+1: two full replicas
 * (10.0.0.1, 10.0.0.2) and a witness (10.0.0.3, id `10.0.0.3:8100:0:1`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EntryType, type PeerKey } from "../../src/core/types.js";
import { RaftError } from "../../src/core/errors.js";
import type { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, codeOf, compactPast, converge, withCluster } from "./helpers.js";

const WITNESS = "10.0.0.3:8100:0:1";
const WITNESS_TO_LEADER = { raft_enable_witness_to_leader: true } as const;

/** Writes `count` entries through the leader; returns the index of the last one. */
async function writeMany(cluster: SimCluster, prefix: string, count: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < count; i++) last = (await cluster.applyAndWait(bytes(`${prefix}${i}`))).index;
  return last;
}

/** How long the witness led and whether a full replica leads at the end, over `durationMs`. */
async function watchWitness(
  cluster: SimCluster,
  durationMs: number,
  until: () => boolean = () => false,
): Promise<{ ledMs: number; firstLedAtMs: number | undefined }> {
  let ledMs = 0;
  let firstLedAtMs: number | undefined;
  let since: number | undefined;
  await cluster.scheduler.runUntil(() => {
    const now = cluster.scheduler.nowMs;
    const leads = cluster.running().includes(WITNESS) && cluster.node(WITNESS).isLeader();
    if (leads && since === undefined) since = now;
    if (leads) firstLedAtMs ??= now;
    if (!leads && since !== undefined) {
      ledMs += now - since;
      since = undefined;
    }
    return until();
  }, durationMs);
  if (since !== undefined) ledMs += cluster.scheduler.nowMs - since;
  return { ledMs, firstLedAtMs };
}

/**
 * The leader commits with the witness alone while `lagging` gets heartbeats but no entries, so
 * the witness ends up with a newer log than the surviving full replica: the case each setting
 * of raft_enable_witness_to_leader answers differently. Returns the index of the last write.
 */
async function witnessAheadOf(cluster: SimCluster, leader: PeerKey, lagging: PeerKey): Promise<number> {
  cluster.dropAppend = (from, request) =>
    from === leader && request.peerId === lagging && request.entries.length > 0;
  const last = await writeMany(cluster, "ahead", 5);
  cluster.dropAppend = undefined;
  assert.ok(cluster.node(lagging).getStatus().lastIndex < last, "the full follower lags");
  assert.ok(cluster.node(WITNESS).getStatus().lastIndex >= last, "the witness holds every write");
  return last;
}

test("LeaderFailWithWitness: the 2+1 group survives losing its leader; the witness votes but applies nothing, stores no data and serves no reads", async () => {
  await withCluster({ seed: 2001, nodes: 3, witnesses: 1 }, async (cluster) => {
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    assert.ok(leader !== undefined && leader !== WITNESS, `a full replica leads (${String(leader)})`);
    await writeMany(cluster, "before", 10);
    cluster.crash(leader);
    const next = await cluster.waitForLeader();
    assert.ok(next !== undefined && next !== leader && next !== WITNESS, "the other full replica leads");
    await writeMany(cluster, "after", 10);
    await cluster.start(leader);
    await converge(cluster);
    const read = await cluster.settle(codeOf(cluster.node(WITNESS).readIndex()));
    assert.equal(read, "EPERM", "a witness confirms no reads: it has no state to read after them");
    const witness = cluster.process(WITNESS);
    assert.ok(cluster.node(WITNESS).getStatus().appliedIndex >= 20, "the witness's applied index advances");
    assert.equal(witness.registers?.appliedIndex, 0, "its state machine's onApply never ran");
    const data = witness.disk.snapshotOfLog().filter((entry) => entry.type === EntryType.DATA);
    assert.ok(data.length >= 20, "the witness's log holds the DATA entries");
    assert.ok(
      data.every((entry) => entry.data.length === 0),
      "without data",
    );
  });
});

test("WitnessNeverLeadsWithoutFlag: a witness whose log is newer blocks the election (braft's documented risk) and never campaigns", async () => {
  await withCluster({ seed: 2002, nodes: 3, witnesses: 1 }, async (cluster) => {
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    assert.ok(leader !== undefined && leader !== WITNESS);
    const lagging = cluster.peers.find((peer) => peer !== leader && peer !== WITNESS) as PeerKey;
    await witnessAheadOf(cluster, leader, lagging);
    assert.equal(await codeOf(cluster.node(leader).transferLeadershipTo(WITNESS)), "EINVAL");
    assert.throws(() => cluster.node(WITNESS).vote(1000), { code: "EPERM" });
    cluster.crash(leader);
    const watched = await watchWitness(cluster, 20_000, () => cluster.leader() !== undefined);
    assert.equal(cluster.leader(), undefined, "no leader: the full replica's log is behind the witness's");
    assert.equal(watched.firstLedAtMs, undefined, "the witness never led");
    await cluster.start(leader);
    assert.equal(await cluster.waitForLeader(), leader, "the group recovers when the old leader returns");
    await converge(cluster);
  });
});

test("WitnessToLeaderHandsOver: with raft_enable_witness_to_leader the witness leads only to bring the full replica up to date, then hands leadership to it", async () => {
  await withCluster({ seed: 2003, nodes: 3, witnesses: 1, flags: WITNESS_TO_LEADER }, async (cluster) => {
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    assert.ok(leader !== undefined && leader !== WITNESS);
    const lagging = cluster.peers.find((peer) => peer !== leader && peer !== WITNESS) as PeerKey;
    const last = await witnessAheadOf(cluster, leader, lagging);
    cluster.crash(leader);
    let writeThroughWitness: string | undefined;
    const watched = await watchWitness(cluster, 20_000, () => {
      if (writeThroughWitness === undefined && cluster.node(WITNESS).isLeader()) {
        writeThroughWitness = "pending";
        void codeOf(cluster.node(WITNESS).apply(bytes("to the witness"))).then((code) => {
          writeThroughWitness = code;
        });
      }
      return cluster.leader() === lagging;
    });
    assert.equal(cluster.leader(), lagging, `the full replica leads at last: ${cluster.describe()}`);
    assert.ok(watched.firstLedAtMs !== undefined, "the witness led first");
    assert.ok(watched.ledMs <= 1000, `it led ${watched.ledMs} ms, at most one election timeout`);
    assert.equal(writeThroughWitness, "EBUSY", "the witness leader took no write");
    assert.ok(cluster.node(lagging).getStatus().lastIndex > last, "the new leader holds every write");
    await writeMany(cluster, "after", 5);
    await converge(cluster);
    assert.equal(cluster.process(WITNESS).registers?.appliedIndex, 0, "the witness applied nothing");
  });
});

test("WitnessLogBounded: snapshots on a witness keep only their meta and trim its log like any node's", async () => {
  await withCluster(
    { seed: 2004, nodes: 3, witnesses: 1, snapshots: { intervalS: 1, logMarginEntries: 0 } },
    async (cluster) => {
      await cluster.startAll();
      await cluster.waitForLeader();
      let spanMax = 0;
      for (let round = 0; round < 10; round++) {
        await writeMany(cluster, `r${round}-`, 30);
        await cluster.scheduler.runFor(1500);
        const { first, last } = cluster.process(WITNESS).disk.logBounds();
        spanMax = Math.max(spanMax, last - first + 1);
      }
      const status = cluster.node(WITNESS).getStatus();
      assert.ok(status.lastIndex >= 300, "the witness took every entry");
      assert.ok(spanMax < 150, `its log held at most ${spanMax} entries at the checks`);
      const snapshot = cluster.process(WITNESS).snapshotStore?.current;
      assert.ok(snapshot !== undefined && snapshot.meta.lastIncludedIndex > 200, "it took snapshots");
      assert.equal(snapshot.files.size, 0, "holding no files");
      assert.equal(cluster.process(WITNESS).registers?.appliedIndex, 0, "its state machine saved nothing");
      await converge(cluster);
    },
  );
});

test("WitnessInstallSnapshot: a witness behind the leader's log installs the snapshot's meta only, without loading its state machine", async () => {
  await withCluster(
    { seed: 2005, nodes: 3, witnesses: 1, snapshots: { intervalS: 0, logMarginEntries: 0 } },
    async (cluster) => {
      await cluster.startAll();
      const leader = await cluster.waitForLeader();
      assert.ok(leader !== undefined && leader !== WITNESS);
      await compactPast(cluster, leader, WITNESS);
      await cluster.applyAndWait(bytes("after the snapshot")); // the leader's log now starts past it
      await cluster.start(WITNESS);
      const installed = await cluster.scheduler.runUntil(
        () => (cluster.process(WITNESS).snapshotStore?.current?.meta.lastIncludedIndex ?? 0) >= 20,
        10_000,
      );
      assert.ok(installed, `the witness installed the leader's snapshot: ${cluster.describe()}`);
      assert.equal(cluster.process(WITNESS).snapshotStore?.current?.files.size, 0, "without its files");
      await writeMany(cluster, "after", 5);
      await converge(cluster);
      assert.equal(cluster.process(WITNESS).registers?.appliedIndex, 0, "no onSnapshotLoad, no onApply");
    },
  );
});

test("WitnessBehindSnapshotWaits: a witness leader whose log no longer reaches the surviving replica takes no writes and hands over only to a replica holding every entry (braft's data-loss risk)", async () => {
  await withCluster(
    {
      seed: 2006,
      nodes: 3,
      witnesses: 1,
      flags: WITNESS_TO_LEADER,
      snapshots: { intervalS: 0, logMarginEntries: 0 },
    },
    async (cluster) => {
      await cluster.startAll();
      const leader = await cluster.waitForLeader();
      assert.ok(leader !== undefined && leader !== WITNESS);
      const lagging = cluster.peers.find((peer) => peer !== leader && peer !== WITNESS) as PeerKey;
      const last = await witnessAheadOf(cluster, leader, lagging);
      await cluster.settle(cluster.node(WITNESS).snapshot()); // the witness trims what the replica lacks
      assert.ok(
        cluster.process(WITNESS).disk.logBounds().first > cluster.node(lagging).getStatus().lastIndex + 1,
      );
      cluster.crash(leader);
      const watched = await watchWitness(cluster, 15_000, () => cluster.leader() === lagging);
      assert.ok(watched.firstLedAtMs !== undefined, "the witness led");
      assert.notEqual(cluster.leader(), lagging, "the replica missing entries never led");
      assert.equal(await codeOf(cluster.apply(WITNESS, bytes("refused"))), "EBUSY", "no writes meanwhile");
      await cluster.start(leader);
      const handedOver = await cluster.scheduler.runUntil(() => cluster.leader() === leader, 15_000);
      assert.ok(handedOver, `the old leader, which holds every entry, takes over: ${cluster.describe()}`);
      assert.ok(cluster.node(leader).getStatus().lastIndex > last);
      await writeMany(cluster, "after", 5);
      await converge(cluster);
    },
  );
});

test("WitnessProbesPastUnknownTerm: a witness leader whose log starts after an entry of unknown term (trimmed with a margin) brings a replica holding its first entries up to date after a failed append, then hands over (sim seed 2199)", async () => {
  await withCluster(
    {
      seed: 2007,
      nodes: 3,
      witnesses: 1,
      flags: WITNESS_TO_LEADER,
      snapshots: { intervalS: 0, logMarginEntries: 8 },
    },
    async (cluster) => {
      await cluster.startAll();
      const leader = await cluster.waitForLeader();
      assert.ok(leader !== undefined && leader !== WITNESS);
      const lagging = cluster.peers.find((peer) => peer !== leader && peer !== WITNESS) as PeerKey;
      const shared = await writeMany(cluster, "shared", 10);
      await cluster.scheduler.runUntil(() => cluster.node(lagging).getStatus().lastIndex >= shared, 5000);
      const last = await witnessAheadOf(cluster, leader, lagging);
      await cluster.settle(cluster.node(WITNESS).snapshot()); // keeps 8 entries: the term before is lost
      const { first } = cluster.process(WITNESS).disk.logBounds();
      const laggingLast = cluster.node(lagging).getStatus().lastIndex;
      assert.ok(first > 1 && first <= laggingLast, `the replica holds the witness's first entry ${first}`);
      let failures = 1; // one failed append sends the witness back to probing from its log's start
      cluster.failAppend = (from, to) => {
        if (from !== WITNESS || to !== lagging || !cluster.node(WITNESS).isLeader() || failures === 0)
          return undefined;
        failures--;
        return new RaftError("EHOSTUNREACH", "failed by the scenario");
      };
      cluster.crash(leader);
      const watched = await watchWitness(cluster, 20_000, () => cluster.leader() === lagging);
      assert.ok(watched.firstLedAtMs !== undefined && failures === 0, "the witness led and an append failed");
      assert.equal(cluster.leader(), lagging, `the full replica leads at last: ${cluster.describe()}`);
      assert.ok(cluster.node(lagging).getStatus().lastIndex > last, "the new leader holds every write");
      await writeMany(cluster, "after", 5);
      await cluster.start(leader);
      await converge(cluster);
    },
  );
});
