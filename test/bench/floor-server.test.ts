import assert from "node:assert/strict";
import { test } from "node:test";
import { BenchCluster } from "../../bench/bench-cluster.js";
import { CounterClient, fetchAddRequest } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";

test("the floor cluster: the first peer leads, answers each fetch_add with the value before it, and counts it", async () => {
  const cluster = await BenchCluster.start("floor", { sync: true, braftBin: "" });
  const client = new CounterClient(cluster.conf, "Counter", 2000);
  try {
    const leader = await cluster.leader();
    assert.equal(leader, cluster.servers[0]);
    assert.equal(await client.leaderOrRefresh(), `127.0.0.1:${leader.port}`);
    const reply: CounterReply = { success: false, value: -1, redirect: undefined, refused: false };
    const values: number[] = [];
    for (const add of [5n, 7n, 1n]) {
      await client.call(`127.0.0.1:${leader.port}`, "fetch_add", fetchAddRequest(add), reply);
      assert.equal(reply.success, true);
      values.push(reply.value);
    }
    assert.deepEqual(values, [0, 5, 12]);
    assert.equal(await cluster.committedIndex(leader), 3);
  } finally {
    client.close();
    await cluster.stop();
  }
});
