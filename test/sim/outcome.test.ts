/**
 * Refused or unknown: every failed apply, read, membership change and transfer says whether it
 * may still take effect (`outcome` on RaftError and on Status), so a client retries only what is
 * safe. "refused": never entered the log (a read: changes nothing). "unknown": it may commit.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { RaftNode } from "../../src/node/raft-node.js";
import type { Status } from "../../src/node/closure.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, converge, rejectionOf } from "./helpers.js";

/** The outcome an error or a Status carries. */
function outcomeOf(value: RaftError | Status): unknown {
  return (value as unknown as { outcome?: unknown }).outcome;
}

/** Runs braft's applyTask form and resolves with the Status its closure gets. */
function applyTaskStatus(node: RaftNode, data: unknown, expectedTerm?: number): Promise<Status> {
  return new Promise((resolve) => {
    node.applyTask({ data: data as Uint8Array, done: { run: resolve }, expectedTerm });
  });
}

/** Asserts `error` has `code` (one of them) and `outcome`. */
function assertRejected(error: RaftError, codes: string | string[], outcome: string, what: string): void {
  const wanted = Array.isArray(codes) ? codes : [codes];
  assert.ok(wanted.includes(error.code), `${what}: code ${error.code} (${error.message})`);
  assert.equal(outcomeOf(error), outcome, `${what}: outcome of ${error.code}: ${error.message}`);
}

test("ApplyOnFollower: the apply is refused, with the leader to redirect to", async () => {
  const cluster = new SimCluster({ seed: 1201, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const follower = cluster.node(cluster.peers.find((peer) => peer !== leader) as string);
  await cluster.scheduler.runFor(500); // the follower hears from the leader
  const error = await rejectionOf(cluster.settle(follower.apply(bytes("x"))));
  assertRejected(error, "EPERM", "refused", "apply on a follower");
  assert.equal(error.leaderId, leader);
  const status = await cluster.settle(applyTaskStatus(follower, bytes("y")));
  assert.equal(status.code, "EPERM");
  assert.equal(outcomeOf(status), "refused", "the applyTask closure's Status says so too");
  await cluster.shutdownAll();
});

test("LeaderStepDownWithPendingApply: the apply fails as unknown, and its entry commits anyway", async () => {
  const seen: string[] = [];
  const cluster = new SimCluster({
    seed: 1202,
    nodes: 3,
    fsmFactory: (peer, sim) => ({
      onApply(iter) {
        for (const entry of iter) {
          sim.checker.observeApply(peer, entry.index, entry.term, entry.data);
          seen.push(`${peer} ${new TextDecoder().decode(entry.data)}`);
        }
      },
    }),
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("before"));
  // The followers get (and persist) the entry, but their answers never reach the leader.
  for (const peer of cluster.peers) if (peer !== leader) cluster.network.cutOneWay(peer, leader);
  const error = await rejectionOf(cluster.settle(cluster.node(leader).apply(bytes("ambiguous"))));
  assertRejected(error, "EPERM", "unknown", "a leader that stepped down with the entry pending");
  cluster.network.heal();
  await cluster.scheduler.runUntil(() => seen.includes(`${leader} ambiguous`), 30_000);
  assert.ok(seen.includes(`${leader} ambiguous`), "the rejected entry was committed by the next leader");
  await converge(cluster);
  await cluster.shutdownAll();
});

test("ShutdownWithPendingApply: a proposed apply is unknown, a queued one refused", async () => {
  const cluster = new SimCluster({ seed: 1203, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const node = cluster.node(leader);
  cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
  const proposed = rejectionOf(node.apply(bytes("proposed")));
  await cluster.scheduler.runFor(5);
  const queued = rejectionOf(node.apply(bytes("queued")));
  const queuedTask = applyTaskStatus(node, bytes("queued task"));
  await cluster.settle(node.shutdown());
  assertRejected(await proposed, ["ESHUTDOWN", "EPERM"], "unknown", "proposed before shutdown");
  assertRejected(await queued, ["ESHUTDOWN", "EPERM"], "refused", "queued at shutdown");
  assert.equal(outcomeOf(await queuedTask), "refused", "queued task at shutdown");
  assertRejected(await rejectionOf(node.apply(bytes("late"))), "ESHUTDOWN", "refused", "after shutdown");
  await cluster.shutdownAll();
});

test("ApplyRefusals: expectedTerm EPERM, EREADONLY, EBUSY, EINVAL and an aborted signal are refused", async () => {
  const cluster = new SimCluster({ seed: 1204, nodes: 3, flags: { tsraft_max_pending_applies: 2 } });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const node = cluster.node(leader);
  await cluster.applyAndWait(bytes("x"));
  const stale = await rejectionOf(cluster.settle(node.apply(bytes("s"), { expectedTerm: node.term + 1 })));
  assertRejected(stale, "EPERM", "refused", "expectedTerm mismatch");
  const staleTask = await cluster.settle(applyTaskStatus(node, bytes("s"), node.term + 1));
  assert.equal(outcomeOf(staleTask), "refused", "expectedTerm mismatch (applyTask)");
  node.enterReadonlyMode();
  assertRejected(
    await rejectionOf(cluster.settle(node.apply(bytes("r")))),
    "EREADONLY",
    "refused",
    "read-only",
  );
  node.leaveReadonlyMode();
  const aborted = await rejectionOf(node.apply(bytes("a"), { signal: AbortSignal.abort() }));
  assertRejected(aborted, "ECANCELED", "refused", "aborted before the call");
  const invalid = await cluster.settle(applyTaskStatus(node, "not bytes"));
  assert.equal(invalid.code, "EINVAL");
  assert.equal(outcomeOf(invalid), "refused", "data that is not bytes");
  // Three applies in one tick against a bound of two pending: the batch is refused as a whole.
  const flood = [1, 2, 3].map((i) => rejectionOf(node.apply(bytes(`f${i}`))).catch((e: unknown) => e));
  const busy = (await cluster.settle(Promise.all(flood))).filter((e) => RaftError.is(e));
  assert.ok(busy.length > 0, "the flood was refused");
  for (const error of busy) assertRejected(error as RaftError, "EBUSY", "refused", "too many pending");
  await cluster.shutdownAll();
});

test("AbortAfterProposal: ECANCELED is unknown once the entry is in the log", async () => {
  const cluster = new SimCluster({ seed: 1205, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
  const controller = new AbortController();
  const pending = rejectionOf(cluster.node(leader).apply(bytes("late"), { signal: controller.signal }));
  await cluster.scheduler.runFor(5);
  controller.abort();
  assertRejected(await cluster.settle(pending), "ECANCELED", "unknown", "aborted after proposal");
  await cluster.shutdownAll();
});

test("ErrorWithPendingApply: a leader whose disk fails leaves its pending apply unknown", async () => {
  let failing = "";
  const cluster = new SimCluster({
    seed: 1206,
    nodes: 3,
    wrapLogStorage: (peer, storage) =>
      new Proxy(storage, {
        get(target, key, receiver) {
          if (key === "appendEntries" && failing === peer) {
            return () => Promise.reject(new RaftError("EIO", "disk failed"));
          }
          const value = Reflect.get(target, key, receiver) as unknown;
          return typeof value === "function" ? value.bind(target) : value;
        },
      }),
  });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("before"));
  failing = leader;
  const error = await rejectionOf(cluster.settle(cluster.node(leader).apply(bytes("lost?"))));
  assert.equal(cluster.node(leader).getStatus().state, "ERROR");
  assertRejected(error, ["EIO", "EPERM"], "unknown", "pending when the node entered ERROR");
  const later = await rejectionOf(cluster.node(leader).apply(bytes("later")));
  assertRejected(later, "EPERM", "refused", "apply on a node in ERROR");
  await cluster.shutdownAll();
});

test("MembershipOutcomes: refused before the change starts, unknown once its entry is in the log", async () => {
  const cluster = new SimCluster({ seed: 1207, nodes: 4, initialVoters: 3 });
  for (const peer of cluster.peers.slice(0, 3)) await cluster.start(peer);
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const node = cluster.node(leader);
  const voters = cluster.peers.slice(0, 3);
  const follower = voters.find((peer) => peer !== leader) as string;
  const newcomer = cluster.peers[3] as string;
  const onFollower = await rejectionOf(cluster.settle(cluster.node(follower).addPeer(newcomer)));
  assertRejected(onFollower, "EPERM", "refused", "addPeer on a follower");
  const badConf = await rejectionOf(cluster.settle(node.changePeers("not a configuration")));
  assertRejected(badConf, "EINVAL", "refused", "a malformed configuration");
  // The newcomer is not running: it never catches up, so no configuration entry is written.
  const catchup = node.addPeer(newcomer);
  const busy = await rejectionOf(node.removePeer(follower));
  assertRejected(busy, "EBUSY", "refused", "a second change while one runs");
  assertRejected(await rejectionOf(cluster.settle(catchup)), "ECATCHUP", "refused", "catch-up failed");
  // The removal's entry is appended at once, but no follower's answer reaches the leader.
  for (const peer of voters) if (peer !== leader) cluster.network.cutOneWay(peer, leader);
  const removal = await rejectionOf(cluster.settle(node.removePeer(follower)));
  assertRejected(removal, "EPERM", "unknown", "leadership lost with the entry in the log");
  cluster.network.heal();
  await cluster.shutdownAll();
});

test("TransferOutcomes: refused before it starts, unknown once TimeoutNow may be on its way", async () => {
  const cluster = new SimCluster({ seed: 1208, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("x"));
  const node = cluster.node(leader);
  const [target, other] = cluster.peers.filter((peer) => peer !== leader) as [string, string];
  const onFollower = await rejectionOf(cluster.settle(cluster.node(target).transferLeadershipTo(other)));
  assertRejected(onFollower, "EPERM", "refused", "transfer on a follower");
  const stranger = await rejectionOf(cluster.settle(node.transferLeadershipTo("10.9.9.9:1:0")));
  assertRejected(stranger, "EINVAL", "refused", "a target outside the group");
  // TimeoutNow to the target is lost: the transfer times out, although the target might have won.
  cluster.network.cutOneWay(leader, target);
  const transfer = node.transferLeadershipTo(target);
  const second = await rejectionOf(node.transferLeadershipTo(other));
  assertRejected(second, "EBUSY", "refused", "a second transfer");
  assertRejected(await rejectionOf(cluster.settle(transfer)), "ERAFTTIMEDOUT", "unknown", "timed out");
  cluster.network.heal();
  await cluster.shutdownAll();
});

test("ReadIndexOutcome: a failed read is refused, since a read changes nothing", async () => {
  const cluster = new SimCluster({ seed: 1209, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  const follower = cluster.peers.find((peer) => peer !== leader) as string;
  cluster.network.partition([[leader], cluster.peers.filter((peer) => peer !== leader)]);
  const onLeader = await rejectionOf(cluster.settle(cluster.node(leader).readIndex()));
  assertRejected(
    onLeader,
    ["ERAFTTIMEDOUT", "EPERM"],
    "refused",
    "a read the isolated leader cannot confirm",
  );
  const onFollower = await rejectionOf(cluster.settle(cluster.node(follower).readIndex()));
  assert.equal(outcomeOf(onFollower), "refused", `a follower's read (${onFollower.code})`);
  cluster.network.heal();
  await cluster.shutdownAll();
});
