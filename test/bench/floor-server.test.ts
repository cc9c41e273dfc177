import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { BenchCluster } from "../../bench/bench-cluster.js";
import { CounterClient, fetchAddRequest } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";

let cluster: BenchCluster;
let client: CounterClient;

before(async () => {
  cluster = await BenchCluster.start("floor", { sync: true, braftBin: "" });
  client = new CounterClient(cluster.conf, "Counter", 2000);
});

after(async () => {
  client.close();
  await cluster.stop();
});

async function fetchAdd(port: number, add: bigint): Promise<CounterReply> {
  const reply: CounterReply = { success: false, value: -1, redirect: undefined, refused: false };
  return client.call(`127.0.0.1:${port}`, "fetch_add", fetchAddRequest(add), reply);
}

test("the floor cluster: the first peer leads, answers each fetch_add with the value before it, and counts it", async () => {
  const leader = await cluster.leader();
  assert.equal(leader, cluster.servers[0]);
  assert.equal(await client.leaderOrRefresh(), `127.0.0.1:${leader.port}`);
  const values: number[] = [];
  for (const add of [5n, 7n, 1n]) {
    const reply = await fetchAdd(leader.port, add);
    assert.equal(reply.success, true);
    values.push(reply.value);
  }
  assert.deepEqual(values, [0, 5, 12]);
  assert.equal(await cluster.committedIndex(leader), 3);
});

test("the floor closes a connection that sends a malformed frame, and goes on serving the others", async () => {
  const leader = await cluster.leader();
  const socket = connect({ port: leader.port, host: "127.0.0.1" });
  socket.on("error", () => undefined);
  await once(socket, "connect");
  // "PRPC", a body of 4 bytes whose meta claims 9: a frame no parser accepts.
  socket.write(Buffer.from([0x50, 0x52, 0x50, 0x43, 0, 0, 0, 4, 0, 0, 0, 9, 1, 2, 3, 4]));
  await once(socket, "close");
  const before = await cluster.committedIndex(leader);
  assert.equal((await fetchAdd(leader.port, 1n)).success, true);
  assert.equal(await cluster.committedIndex(leader), before + 1);
});
