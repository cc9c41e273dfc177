/**
 * The atomic example's client against servers that answer like braft's atomic_server, which
 * never sets `refused`: its redirect may come after the write was proposed, so the write is
 * `unknown`, but the leader it names is where the next call goes. Found by the mixed chaos run
 * (`npm run chaos -- --braft 2`): a client whose first guess was a braft follower sent every
 * write there, got `unknown` each time, and never reached the leader.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AtomicClient } from "../../examples/atomic/atomic-client.js";
import { RaftServer } from "../../src/index.js";
import { AtomicService } from "../../src/rpc/gen/example/atomic_pb.js";

/** A server that answers every exchange as braft's follower does, or as its leader. */
async function fakeAtomicServer(answer: "redirect" | "ok", leader: string): Promise<RaftServer> {
  const server = new RaftServer();
  const reply = (id: bigint, value: bigint) =>
    answer === "ok"
      ? { success: true, id, oldValue: 0n, newValue: value }
      : { success: false, redirect: leader };
  server.addService(AtomicService, {
    get: (request) => reply(request.id, 0n),
    exchange: (request) => reply(request.id, request.value),
    compare_exchange: (request) => reply(request.id, request.newValue),
  });
  await server.start("127.0.0.1:0");
  return server;
}

test("AtomicClientRedirectHint: a braft follower's redirect leaves the write unknown and sends the next write to the leader it names", async () => {
  const leader = await fakeAtomicServer("ok", "");
  const leaderPeer = `${leader.address}:0`;
  const follower = await fakeAtomicServer("redirect", leaderPeer);
  const client = new AtomicClient([`${follower.address}:0`, leaderPeer], { timeoutMs: 2000, firstGuess: 0 });
  try {
    const first = await client.exchange(1n, 5n);
    assert.equal(first.outcome, "unknown", "braft's redirect does not say the write was not proposed");
    const second = await client.exchange(1n, 6n);
    assert.equal(second.outcome, "ok");
    assert.equal(second.outcome === "ok" ? second.server : "", leader.address);
  } finally {
    client.close();
    await Promise.all([leader.stop(), follower.stop()]);
  }
});
