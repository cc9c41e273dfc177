/**
 * SimNetwork semantics the cluster simulations rely on: delivery with delays, loss,
 * duplication, partitions, one-way cuts, timeouts and process crashes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { AppendEntriesRequest, AppendEntriesResponse } from "../../src/core/messages.js";
import { EntryType } from "../../src/core/types.js";
import type { RaftService } from "../../src/node/ports.js";
import { Prng } from "../../src/testing/prng.js";
import { SimNetwork, type SimNetworkOptions } from "../../src/testing/sim-network.js";
import { SimScheduler } from "../../src/testing/sim-scheduler.js";

const GROUP = "g";
const FAST: SimNetworkOptions = { minDelayMs: 1, maxDelayMs: 10, lossRate: 0, duplicateRate: 0 };

function request(from: string, to: string, term = 1): AppendEntriesRequest {
  const entry = { index: 1, term, type: EntryType.DATA, data: new Uint8Array([1, 2, 3]) };
  return {
    groupId: GROUP,
    serverId: from,
    peerId: to,
    term,
    prevLogTerm: 0,
    prevLogIndex: 0,
    entries: [entry],
    committedIndex: 0,
  };
}

/** A service that records what it received and answers with `answer` (default: success). */
function recorder(
  answer: (req: AppendEntriesRequest) => Promise<AppendEntriesResponse> = async (req) => ({
    term: req.term,
    success: true,
    lastLogIndex: 1,
  }),
): RaftService & { received: AppendEntriesRequest[] } {
  const received: AppendEntriesRequest[] = [];
  return {
    received,
    appendEntries: (req) => {
      received.push(req);
      return answer(req);
    },
    requestVote: () => Promise.reject(new RaftError("ENOSYS", "not in this test")),
    timeoutNow: () => Promise.reject(new RaftError("ENOSYS", "not in this test")),
  };
}

/** Tracks a promise's outcome without awaiting it (the scheduler drives time). */
function watch<T>(promise: Promise<T>): { value?: T; error?: RaftError } {
  const state: { value?: T; error?: RaftError } = {};
  promise.then(
    (value) => void (state.value = value),
    (error: RaftError) => void (state.error = error),
  );
  return state;
}

function setup(options: SimNetworkOptions = FAST, seed = 1) {
  const scheduler = new SimScheduler();
  const network = new SimNetwork(scheduler, new Prng(seed).fork("net"), options);
  return { scheduler, network };
}

test("DeliversRequestAndResponseAfterRandomDelays", async () => {
  const { scheduler, network } = setup();
  const b = recorder();
  network.host("b").registerNode(GROUP, "b", b);
  const sent = request("a", "b");
  const call = watch(network.host("a").client.appendEntries("b", sent, 1000));
  (sent.entries[0]?.data as Uint8Array)[0] = 99; // the wire took a copy at send time
  assert.ok(await scheduler.runUntil(() => call.value !== undefined, 100));
  assert.ok(scheduler.nowMs >= 2 && scheduler.nowMs < 20, `round trip took ${scheduler.nowMs} ms`);
  assert.deepEqual(call.value, { term: 1, success: true, lastLogIndex: 1 });
  assert.equal(b.received.length, 1);
  assert.deepEqual([...(b.received[0]?.entries[0]?.data ?? [])], [1, 2, 3]);
  assert.equal(network.stats.delivered, 2);
  assert.equal(network.stats.sent, 2);
});

test("TimesOutWhenNobodyListensOrEverythingIsLost", async () => {
  const { scheduler, network } = setup();
  const nobody = watch(network.host("a").client.appendEntries("b", request("a", "b"), 50));
  await scheduler.runFor(49.9);
  assert.deepEqual(nobody, {}, "not before its timeout");
  await scheduler.runFor(0.1);
  assert.equal(nobody.error?.code, "ERAFTTIMEDOUT");

  const b = recorder();
  network.host("b").registerNode(GROUP, "b", b);
  network.setOptions({ lossRate: 1 });
  const lost = watch(network.host("a").client.appendEntries("b", request("a", "b"), 50));
  await scheduler.runFor(100);
  assert.equal(lost.error?.code, "ERAFTTIMEDOUT");
  assert.equal(b.received.length, 0);
  assert.deepEqual(network.stats, { sent: 2, delivered: 0, dropped: 2, duplicated: 0, timedOut: 2 });
});

test("ServiceRejectionReachesTheCallerWithItsCode", async () => {
  const { scheduler, network } = setup();
  network.host("b").registerNode(
    GROUP,
    "b",
    recorder(() => Promise.reject(new RaftError("EPERM", "not leader", { leaderId: "c" }))),
  );
  const call = watch(network.host("a").client.appendEntries("b", request("a", "b"), 1000));
  await scheduler.runFor(100);
  assert.ok(RaftError.is(call.error));
  assert.equal(call.error.code, "EPERM");
  assert.equal(call.error.leaderId, "c");
});

test("DuplicatedRequestsRunTwiceButAnswerOnce", async () => {
  const { scheduler, network } = setup({ ...FAST, duplicateRate: 1 });
  const b = recorder();
  network.host("b").registerNode(GROUP, "b", b);
  let answers = 0;
  void network
    .host("a")
    .client.appendEntries("b", request("a", "b"), 1000)
    .then(() => answers++);
  await scheduler.runFor(100);
  assert.equal(b.received.length, 2);
  assert.equal(answers, 1);
  assert.notEqual(b.received[0], b.received[1], "each copy is its own object");
  // The request and both responses are duplicated: 2 sent + 3 extra copies, all delivered.
  assert.deepEqual(network.stats, { sent: 3, delivered: 6, dropped: 0, duplicated: 3, timedOut: 0 });
});

test("RandomDelaysReorderMessages", async () => {
  const { scheduler, network } = setup({ ...FAST, maxDelayMs: 100 });
  const b = recorder();
  network.host("b").registerNode(GROUP, "b", b);
  for (let term = 1; term <= 30; term++)
    void network.host("a").client.appendEntries("b", request("a", "b", term), 1000);
  await scheduler.runFor(300);
  const order = b.received.map((req) => req.term);
  assert.equal(order.length, 30);
  assert.notDeepEqual(
    order,
    [...order].sort((x, y) => x - y),
  );
});

test("PartitionsCutsAndHeal", async () => {
  const { scheduler, network } = setup();
  const services = new Map(["a", "b", "c", "d"].map((peer) => [peer, recorder()]));
  for (const [peer, service] of services) network.host(peer).registerNode(GROUP, peer, service);
  const call = (from: string, to: string) =>
    watch(network.host(from).client.appendEntries(to, request(from, to), 50));

  network.partition([["a", "b"], ["c"]]);
  const inside = call("a", "b");
  const across = call("a", "c");
  const isolated = call("d", "a");
  await scheduler.runFor(100);
  assert.equal(inside.value?.success, true);
  assert.equal(across.error?.code, "ERAFTTIMEDOUT");
  assert.equal(isolated.error?.code, "ERAFTTIMEDOUT");
  assert.equal(services.get("c")?.received.length, 0);

  network.heal();
  network.cutOneWay("a", "b");
  const cut = call("a", "b");
  const answerCut = call("b", "a"); // the request passes, its answer (a -> b) does not
  const healed = call("c", "d");
  await scheduler.runFor(100);
  assert.equal(cut.error?.code, "ERAFTTIMEDOUT");
  assert.equal(services.get("b")?.received.length, 1, "only the call before the cut reached b");
  assert.equal(services.get("a")?.received.length, 1);
  assert.equal(answerCut.error?.code, "ERAFTTIMEDOUT");
  assert.equal(healed.value?.success, true);
  assert.throws(() => network.partition([["a"], ["a", "b"]]), /two groups/);
});

test("CrashDropsInFlightMessagesAndSilencesTheOldHost", async () => {
  const { scheduler, network } = setup({ ...FAST, minDelayMs: 10, maxDelayMs: 10 });
  const oldB = recorder();
  network.host("b").registerNode(GROUP, "b", oldB);
  const toB = watch(network.host("a").client.appendEntries("b", request("a", "b"), 100));
  await scheduler.runFor(5);
  const oldHost = network.host("b");
  network.crash("b");
  // b restarts before the request would have arrived: it must still not see it.
  const newB = recorder();
  network.host("b").registerNode(GROUP, "b", newB);
  oldHost.registerNode("other", "b", recorder()); // a zombie's registration goes nowhere
  const fromZombie = watch(oldHost.client.appendEntries("a", request("b", "a"), 10));
  await scheduler.runFor(200);
  assert.equal(newB.received.length, 0);
  assert.equal(toB.error?.code, "ERAFTTIMEDOUT");
  assert.deepEqual(fromZombie, {}, "a dead incarnation's call never settles");
  assert.notEqual(network.host("b"), oldHost);
  assert.throws(
    () => network.host("b").registerNode(GROUP, "b", recorder()),
    (e) => RaftError.is(e) && e.code === "EEXIST",
  );
});

test("CrashedCallerNeverHearsBackAndCrashedResponderNeverAnswers", async () => {
  const { scheduler, network } = setup({ ...FAST, minDelayMs: 10, maxDelayMs: 10 });
  let release: () => void = () => {};
  const slow = recorder(
    (req) =>
      new Promise((resolve) => (release = () => resolve({ term: req.term, success: true, lastLogIndex: 1 }))),
  );
  network.host("b").registerNode(GROUP, "b", slow);
  network.host("c").registerNode(GROUP, "c", recorder());
  const fromA = watch(network.host("a").client.appendEntries("c", request("a", "c"), 100));
  const toB = watch(network.host("a").client.appendEntries("b", request("a", "b"), 100));
  await scheduler.runFor(15); // both requests delivered; c's answer is in flight
  network.crash("a");
  await scheduler.runFor(200);
  assert.deepEqual(fromA, {}, "no answer and no timeout for a crashed caller");
  assert.deepEqual(toB, {});

  const fromD = watch(network.host("d").client.appendEntries("b", request("d", "b"), 100));
  await scheduler.runFor(15);
  assert.equal(slow.received.length, 2);
  network.crash("b");
  release(); // the zombie service finishes after its process died: nothing is sent
  await scheduler.runFor(200);
  assert.equal(fromD.error?.code, "ERAFTTIMEDOUT");
});

test("NetworkRunsAreDeterministic", async () => {
  const run = async (seed: number) => {
    const { scheduler, network } = setup(
      { minDelayMs: 1, maxDelayMs: 30, lossRate: 0.2, duplicateRate: 0.2 },
      seed,
    );
    const trace: string[] = [];
    const b = recorder(async (req) => {
      trace.push(`b got ${req.term}@${scheduler.nowMs}`);
      return { term: req.term, success: true, lastLogIndex: 1 };
    });
    network.host("b").registerNode(GROUP, "b", b);
    for (let term = 1; term <= 20; term++) {
      network
        .host("a")
        .client.appendEntries("b", request("a", "b", term), 40)
        .then(
          () => trace.push(`ok ${term}@${scheduler.nowMs}`),
          (e: RaftError) => trace.push(`${e.code} ${term}@${scheduler.nowMs}`),
        );
    }
    await scheduler.runFor(100);
    const { sent, delivered, dropped, duplicated } = network.stats;
    assert.equal(sent + duplicated, delivered + dropped, "every copy was delivered or dropped");
    return trace;
  };
  const first = await run(5);
  assert.ok(first.some((line) => line.startsWith("ERAFTTIMEDOUT")));
  assert.deepEqual(await run(5), first);
  assert.notDeepEqual(await run(6), first);
});

test("InstallSnapshotHasNoTimeoutAndAnswersEnosysWhenNotServed", async () => {
  const { scheduler, network } = setup();
  network.host("b").registerNode(GROUP, "b", recorder());
  let finish: () => void = () => {};
  network.host("c").registerNode(GROUP, "c", {
    ...recorder(),
    installSnapshot: (req) =>
      new Promise((resolve) => (finish = () => resolve({ term: req.term, success: true }))),
  });
  const meta = { lastIncludedIndex: 5, lastIncludedTerm: 1, conf: { peers: ["a", "b", "c"] } };
  const install = (to: string) => {
    const req = { groupId: GROUP, serverId: "a", peerId: to, term: 1, meta, uri: "remote://a/1" };
    return watch(
      network.host("a").client.installSnapshot?.(to, req, 0) ?? Promise.reject(new Error("missing")),
    );
  };
  const unserved = install("b");
  const slow = install("c");
  await scheduler.runFor(60_000);
  assert.equal(unserved.error?.code, "ENOSYS");
  assert.deepEqual(slow, {}, "still waiting: no timeout");
  finish();
  await scheduler.runFor(100);
  assert.deepEqual(slow.value, { term: 1, success: true });
});
