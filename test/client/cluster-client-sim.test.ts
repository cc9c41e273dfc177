/**
 * ClusterClient and RouteTable against real RaftNodes on virtual time (SimCluster), through
 * SimServices: leader changes followed, refreshLeader after an election, and the deadline and
 * the AbortSignal honoured to the virtual millisecond. Fixed seeds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ClusterClient, RaftError, RouteTable } from "../../src/index.js";
import { CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";
import { SimServices } from "./sim-services.js";

const endpointOf = (peer: string): string => peer.split(":").slice(0, 2).join(":");

async function setUp(seed: number) {
  const cluster = new SimCluster({ seed, nodes: 3 });
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.scheduler.runFor(300); // every follower hears from the leader
  const services = new SimServices(cluster);
  const client = new ClusterClient({ channels: services, clock: services.clock, timeoutMs: 5000 });
  client.updateConfiguration("sim", cluster.peers);
  return { cluster, leader, services, client };
}

async function rejection(cluster: SimCluster, promise: Promise<unknown>): Promise<RaftError> {
  try {
    await cluster.settle(promise);
  } catch (error) {
    assert.ok(RaftError.is(error), String(error));
    return error;
  }
  throw new Error("expected a rejection");
}

test("ClientFollowsTransfer: a stale leader's redirect leads the next call to the new one", async () => {
  const { cluster, leader, services, client } = await setUp(4101);
  const first = await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  assert.equal(first.peer.toString(), leader);
  const target = cluster.peers.find((peer) => peer !== leader) as string;
  await cluster.settle(cluster.node(leader).transferLeadershipTo(target));
  await cluster.scheduler.runFor(300);
  services.calls.length = 0;
  const second = await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  assert.equal(second.peer.toString(), target);
  assert.deepEqual(
    services.calls.map((c) => `${c.endpoint} ${c.method}`),
    [`${endpointOf(leader)} fetch_add`, `${endpointOf(target)} fetch_add`],
    "one refused call to the old leader, then the new one, with no lookup in between",
  );
  assert.equal(client.routeTable.selectLeader("sim")?.toString(), target);
  await cluster.shutdownAll();
});

test("RefreshLeaderAfterCrash: refreshLeader names the leader elected after the old one died", async () => {
  const { cluster, leader, services } = await setUp(4102);
  const routes = new RouteTable({ channels: services });
  routes.updateConfiguration("sim", cluster.peers);
  assert.equal((await cluster.settle(routes.refreshLeader("sim", 200))).toString(), leader);
  cluster.crash(leader);
  const elected = (await cluster.scheduler.runUntil(() => {
    const now = cluster.leader();
    return now !== undefined && now !== leader;
  }, 10_000))
    ? (cluster.leader() as string)
    : assert.fail("no new leader");
  await cluster.scheduler.runFor(300);
  assert.equal((await cluster.settle(routes.refreshLeader("sim", 200))).toString(), elected);
  assert.equal(routes.selectLeader("sim")?.toString(), elected);
  await cluster.shutdownAll();
});

test("CallAcrossElection: a call made while the leader is dead succeeds on the next leader", async () => {
  const { cluster, leader, client } = await setUp(4103);
  await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  cluster.crash(leader);
  const result = await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  assert.notEqual(result.peer.toString(), leader);
  assert.equal(result.peer.toString(), cluster.leader());
  await cluster.shutdownAll();
});

test("DeadlineWithLeaderSilent: ERAFTTIMEDOUT at the deadline, outcome unknown (the call was sent), the leader forgotten", async () => {
  const { cluster, leader, services, client } = await setUp(4104);
  await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  for (const peer of cluster.peers) services.cut.add(endpointOf(peer));
  const startMs = cluster.scheduler.nowMs;
  const error = await rejection(
    cluster,
    client.call("sim", CounterService, "fetch_add", { value: 1n }, { timeoutMs: 700 }),
  );
  assert.deepEqual([error.code, error.outcome], ["ERAFTTIMEDOUT", "unknown"]);
  // Virtual times are fractional: the difference carries float rounding (699.9999999999998).
  const elapsedMs = cluster.scheduler.nowMs - startMs;
  assert.ok(Math.abs(elapsedMs - 700) < 1e-6, `rejected at the deadline, not later: after ${elapsedMs} ms`);
  assert.equal(services.calls.at(-1)?.endpoint, endpointOf(leader));
  assert.equal(client.routeTable.selectLeader("sim"), undefined, "the silent leader is forgotten");
  await cluster.shutdownAll();
});

test("DeadlineWithNoLeaderFound: ERAFTTIMEDOUT, outcome refused (only lookups were sent)", async () => {
  const { cluster, services, client } = await setUp(4105);
  for (const peer of cluster.peers) services.cut.add(endpointOf(peer));
  const startMs = cluster.scheduler.nowMs;
  const error = await rejection(
    cluster,
    client.call("sim", CounterService, "fetch_add", { value: 1n }, { timeoutMs: 300 }),
  );
  assert.deepEqual([error.code, error.outcome], ["ERAFTTIMEDOUT", "refused"]);
  assert.equal(cluster.scheduler.nowMs - startMs, 300);
  assert.ok(
    services.calls.every((c) => c.method === "get_leader"),
    "no fetch_add left the client",
  );
  await cluster.shutdownAll();
});

test("AbortDuringCall: ECANCELED when the signal aborts, outcome unknown", async () => {
  const { cluster, services, client } = await setUp(4106);
  await cluster.settle(client.call("sim", CounterService, "fetch_add", { value: 1n }));
  for (const peer of cluster.peers) services.cut.add(endpointOf(peer));
  const controller = new AbortController();
  const startMs = cluster.scheduler.nowMs;
  cluster.scheduler.schedule(120, () => controller.abort());
  const call = client.call("sim", CounterService, "fetch_add", { value: 1n }, { signal: controller.signal });
  const error = await rejection(cluster, call);
  assert.deepEqual([error.code, error.outcome], ["ECANCELED", "unknown"]);
  assert.equal(cluster.scheduler.nowMs - startMs, 120);
  const already = await rejection(
    cluster,
    client.call("sim", CounterService, "fetch_add", { value: 1n }, { signal: controller.signal }),
  );
  assert.deepEqual(
    [already.code, already.outcome],
    ["ECANCELED", "refused"],
    "an aborted signal sends nothing",
  );
  await cluster.shutdownAll();
});
