/**
 * ClusterClient against real RaftServers on 127.0.0.1 (port 0) whose CounterService answers as
 * scripted: which redirects it follows, which failures it sends again (only what cannot apply
 * twice) and which it reports. Timing (deadlines, aborts, elections) is in cluster-client-sim.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ClusterClient, RaftError, type ServiceImpl } from "../../src/index.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import type { RaftServer } from "../../src/server.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { startServer, stopAll } from "../rpc/helpers.js";

after(stopAll);

type Counter = ServiceImpl<typeof CounterService>;
type FetchAdd = NonNullable<Counter["fetch_add"]>;

/** A server with a scripted CounterService; `calls` counts the fetch_adds it received. */
async function counterServer(fetchAdd: FetchAdd, leaderId = ""): Promise<RaftServer & { calls: number }> {
  const server = (await startServer()) as RaftServer & { calls: number };
  server.calls = 0;
  server.addService(CounterService, {
    fetch_add: (request, ctx) => {
      server.calls++;
      return fetchAdd(request, ctx);
    },
  });
  server.removeService(CliService.typeName);
  server.addService(CliService, {
    get_leader: () => ({ leaderId: leaderId === "" ? idOf(server) : leaderId }),
  });
  return server;
}

const idOf = (server: RaftServer): string => `${server.address}:0`;

function clientFor(...servers: (RaftServer | string)[]): ClusterClient {
  const client = new ClusterClient({ timeoutMs: 3000, backoffMinMs: 1, backoffMaxMs: 5 });
  client.updateConfiguration(
    "g",
    servers.map((s) => (typeof s === "string" ? s : idOf(s))),
  );
  return client;
}

async function rejection(promise: Promise<unknown>): Promise<RaftError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(RaftError.is(error), String(error));
    return error;
  }
  throw new Error("expected a rejection");
}

describe("ClusterClient.call", () => {
  it("follows a redirect to the leader it names and remembers it", async () => {
    const leader = await counterServer(() => ({ success: true, value: 41n }));
    const follower = await counterServer(() => ({ success: false, redirect: idOf(leader), refused: true }));
    const client = clientFor(follower, leader);
    client.routeTable.updateLeader("g", idOf(follower)); // a stale leader
    const result = await client.call("g", CounterService, "fetch_add", { value: 1n });
    assert.equal(result.response.value, 41n);
    assert.equal(result.peer.toString(), idOf(leader));
    assert.equal(client.routeTable.selectLeader("g")?.toString(), idOf(leader));
    assert.deepEqual([follower.calls, leader.calls], [1, 1]);
    client.close();
  });

  it("sends a refused call again, after a backoff, when no leader is named", async () => {
    let refusals = 2;
    const server = await counterServer(() =>
      refusals-- > 0 ? { success: false, refused: true } : { success: true, value: 7n },
    );
    const client = clientFor(server);
    const result = await client.call("g", CounterService, "fetch_add", { value: 1n });
    assert.equal(result.response.value, 7n);
    assert.equal(server.calls, 3, "two refusals, then the answer");
    client.close();
  });

  it("does not send again a call redirected after proposing: EPERM, outcome unknown, leaderId", async () => {
    const leader = await counterServer(() => ({ success: true, value: 1n }));
    const stepped = await counterServer(() => ({ success: false, redirect: idOf(leader), refused: false }));
    const client = clientFor(stepped, leader);
    client.routeTable.updateLeader("g", idOf(stepped));
    const error = await rejection(client.call("g", CounterService, "fetch_add", { value: 1n }));
    assert.equal(error.code, "EPERM");
    assert.equal(error.outcome, "unknown");
    assert.equal(error.leaderId, idOf(leader));
    assert.deepEqual([stepped.calls, leader.calls], [1, 0], "the leader never saw the add");
    assert.equal(client.routeTable.selectLeader("g")?.toString(), idOf(leader), "the next call goes there");
    client.close();
  });

  it("sends an unknown failure again only when the call is idempotent", async () => {
    let failures = 1;
    const server = await counterServer(() => {
      if (failures-- > 0) throw new RaftError("EPERM", "leader stepped down");
      return { success: true, value: 3n };
    });
    const client = clientFor(server);
    const error = await rejection(client.call("g", CounterService, "fetch_add", { value: 1n }));
    assert.deepEqual([error.code, error.outcome, server.calls], ["EPERM", "unknown", 1]);
    failures = 1;
    const result = await client.call("g", CounterService, "fetch_add", { value: 1n }, { idempotent: true });
    assert.deepEqual([result.response.value, server.calls], [3n, 3]);
    client.close();
  });

  it("a handler's RaftError crosses the wire with its leader and outcome: refused is followed", async () => {
    const leader = await counterServer(() => ({ success: true, value: 11n }));
    const follower = await counterServer(() => {
      throw new RaftError("EPERM", "not the leader", { leaderId: idOf(leader), outcome: "refused" });
    });
    const client = clientFor(follower, leader);
    client.routeTable.updateLeader("g", idOf(follower));
    const result = await client.call("g", CounterService, "fetch_add", { value: 1n });
    assert.deepEqual([result.peer.toString(), follower.calls, leader.calls], [idOf(leader), 1, 1]);
    client.close();
  });

  it("a handler's RaftError with outcome unknown is reported with its leaderId, not resent", async () => {
    const leader = await counterServer(() => ({ success: true, value: 11n }));
    const stepped = await counterServer(() => {
      throw new RaftError("EPERM", "stepped down", { leaderId: idOf(leader), outcome: "unknown" });
    });
    const client = clientFor(stepped, leader);
    client.routeTable.updateLeader("g", idOf(stepped));
    const error = await rejection(client.call("g", CounterService, "fetch_add", { value: 1n }));
    assert.deepEqual([error.code, error.outcome, error.leaderId], ["EPERM", "unknown", idOf(leader)]);
    assert.deepEqual([stepped.calls, leader.calls], [1, 0]);
    assert.equal(client.routeTable.selectLeader("g")?.toString(), idOf(leader));
    client.close();
  });

  it("moves past a peer that refuses connections (the call never left)", async () => {
    const [dead] = (await freePorts(1)) as [number];
    const server = await counterServer(() => ({ success: true, value: 5n }));
    const client = clientFor(`127.0.0.1:${dead}:0`, server);
    client.routeTable.updateLeader("g", `127.0.0.1:${dead}:0`);
    const result = await client.call("g", CounterService, "fetch_add", { value: 1n });
    assert.equal(result.peer.toString(), idOf(server));
    client.close();
  });

  it("redirectOf overrides the convention: success=false taken as the answer, or any answer as a redirect", async () => {
    const server = await counterServer(() => ({ success: false, value: 9n }));
    const client = clientFor(server);
    const plain = await client.call(
      "g",
      CounterService,
      "fetch_add",
      { value: 1n },
      { redirectOf: () => undefined },
    );
    assert.deepEqual([plain.response.success, plain.response.value], [false, 9n]);
    const error = await rejection(
      client.call(
        "g",
        CounterService,
        "fetch_add",
        { value: 1n },
        { redirectOf: () => ({ refused: false }) },
      ),
    );
    assert.deepEqual([error.code, error.outcome], ["EPERM", "unknown"]);
    client.close();
  });

  it("refuses an unknown group (ENOENT) and a bad method (EINVAL) before sending", async () => {
    const server = await counterServer(() => ({ success: true }));
    const client = clientFor(server);
    const unknown = await rejection(client.call("other", CounterService, "fetch_add", { value: 1n }));
    assert.deepEqual([unknown.code, unknown.outcome], ["ENOENT", "refused"]);
    const bad = await rejection(client.call("g", CounterService, "nope" as "get", {}));
    assert.equal(bad.code, "EINVAL");
    assert.equal(server.calls, 0);
    client.close();
  });
});
