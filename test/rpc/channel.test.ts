/** Channels: timeouts, disconnects, reconnect with backoff, address mapping, write coalescing. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createServer, connect, type Server, type Socket } from "node:net";
import { RaftError } from "../../src/core/errors.js";
import { Channel } from "../../src/rpc/channel.js";
import type { RaftServer } from "../../src/server.js";
import { FrameParser } from "../../src/rpc/frame.js";
import { FakeRaftService, peerOn, startServer, stopAll, voteRequest, waitFor } from "./helpers.js";

after(stopAll);

const isCode = (code: string) => (err: unknown) => RaftError.is(err) && err.code === code;

/** A TCP server on 127.0.0.1:0 that runs `onSocket` for each connection. */
async function listen(onSocket: (socket: Socket) => void): Promise<{ server: Server; address: string }> {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { server, address: `127.0.0.1:${port}` };
}

/** A free port: listen on 0, read it, close. */
async function freeAddress(): Promise<string> {
  const { server, address } = await listen(() => undefined);
  await new Promise((resolve) => server.close(resolve));
  return address;
}

describe("Channel", () => {
  it("times out a call the peer never answers with ERAFTTIMEDOUT, and keeps the connection", async () => {
    const server = await startServer();
    let answer = false;
    server.registerNode(
      "g",
      peerOn(server),
      new FakeRaftService({
        requestVote: () =>
          answer ? Promise.resolve({ term: 1, granted: true }) : new Promise(() => undefined),
      }),
    );
    const caller = await startServer();
    await assert.rejects(
      caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 50),
      (err) => {
        return isCode("ERAFTTIMEDOUT")(err) && /timed out after 50 ms/.test((err as Error).message);
      },
    );
    answer = true;
    // On a loaded machine the connect itself may outlast 50 ms; the timeout must not drop it.
    const channel = caller.channels.get(server.address);
    await waitFor(() => channel.connected, "the channel stays connected", 10_000);
    const ok = await caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 1000);
    assert.equal(ok.granted, true);
  });

  it("fails in-flight calls with EHOSTUNREACH as soon as the connection drops", async () => {
    const { server, address } = await listen((socket) => {
      socket.once("data", () => socket.destroy());
    });
    const channel = new Channel(address);
    const started = performance.now();
    await assert.rejects(channel.call("s", "m", new Uint8Array(1), { timeoutMs: 60_000 }), (err) => {
      return isCode("EHOSTUNREACH")(err) && /lost/.test((err as Error).message);
    });
    assert.ok(performance.now() - started < 30_000, "well before the call's 60 s timeout");
    channel.close();
    server.close();
  });

  it("refuses calls during the reconnect backoff with errors that carry no stack trace", async () => {
    const address = await freeAddress();
    const channel = new Channel(address, { reconnectBackoffMinMs: 60_000, reconnectBackoffMaxMs: 60_000 });
    await assert.rejects(channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 }));
    const refused = await channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 }).then(
      () => assert.fail("a call during the backoff was sent"),
      (err: unknown) => err,
    );
    assert.ok(RaftError.is(refused) && refused.code === "EHOSTUNREACH" && refused.outcome === "refused");
    assert.doesNotMatch(refused.stack ?? "", /\n\s+at /, "no stack frames");
    channel.close();
  });

  it("fails fast while the peer is down, backs off, and reconnects when it is back", async () => {
    const address = await freeAddress();
    const channel = new Channel(address, { reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 50 });
    await assert.rejects(
      channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 }),
      isCode("EHOSTUNREACH"),
    );
    await assert.rejects(channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 }), (err) => {
      return isCode("EHOSTUNREACH")(err) && /next attempt in/.test((err as Error).message);
    });
    const [host, port] = address.split(":");
    const server = await startServer({}, `${host}:${port}`);
    server.addMethod("s", "m", () => new Uint8Array([42]));
    let result: Uint8Array | undefined;
    const deadline = performance.now() + 3000;
    while (result === undefined && performance.now() < deadline) {
      result = await channel
        .call("s", "m", new Uint8Array(0), { timeoutMs: 1000 })
        .then((r) => r.message)
        .catch(() => undefined);
      if (result === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual([...(result ?? [])], [42]);
    channel.close();
    await server.stop();
  });

  it("reconnects at once after the server closed an established connection", async () => {
    const server = await startServer();
    server.addMethod("s", "m", () => new Uint8Array([1]));
    const channel = new Channel(server.address);
    await channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 });
    const restarted = await restart(server);
    await waitFor(() => !channel.connected, "the channel to notice the close");
    restarted.addMethod("s", "m", () => new Uint8Array([2]));
    const again = await channel.call("s", "m", new Uint8Array(0), { timeoutMs: 1000 });
    assert.deepEqual([...again.message], [2]);
    channel.close();
  });

  it("dials the address resolveAddress maps a peer's endpoint to", async () => {
    const target = await startServer();
    target.registerNode("g", "10.9.9.9:8100:0", new FakeRaftService());
    let proxied = 0;
    const proxy = await listen((client) => {
      proxied++;
      const upstream = connect({ host: "127.0.0.1", port: Number(target.address.split(":")[1]) });
      upstream.on("error", () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    const caller = await startServer({
      resolveAddress: (endpoint) => (endpoint === "10.9.9.9:8100" ? proxy.address : endpoint),
    });
    const response = await caller.client.requestVote(
      "10.9.9.9:8100:0",
      voteRequest("g", "10.9.9.9:8100:0"),
      1000,
    );
    assert.equal(response.granted, true);
    assert.equal(proxied, 1);
    proxy.server.close();
  });

  it("coalesces the frames of one tick into few writes", async () => {
    let chunks = 0;
    let frames = 0;
    const { server, address } = await listen((socket) => {
      const parser = new FrameParser();
      socket.on("data", (chunk: Buffer) => {
        chunks++;
        frames += parser.push(chunk).length;
      });
    });
    const channel = new Channel(address);
    const calls = Array.from({ length: 200 }, () =>
      channel.call("s", "m", new Uint8Array(16), { timeoutMs: 2000 }).catch(() => undefined),
    );
    await waitFor(() => frames === 200, "200 frames");
    assert.ok(chunks < 20, `200 frames arrived in ${chunks} chunks`);
    channel.close();
    await Promise.all(calls);
    server.close();
  });

  it("rejects, never throws, on bad requests, bad addresses and bad TLS material", async () => {
    const caller = await startServer({ resolveAddress: () => "not an address" });
    const bad = { ...voteRequest("g", "127.0.0.1:1:0"), term: Number.NaN };
    const promise = caller.client.requestVote("127.0.0.1:1:0", bad, 100);
    await assert.rejects(promise, isCode("EINVAL"));
    await assert.rejects(
      caller.client.requestVote("127.0.0.1:1:0", voteRequest("g", "x"), 100),
      isCode("EINVAL"),
    );
    await assert.rejects(caller.client.requestVote("nonsense", voteRequest("g", "x"), 100), isCode("EINVAL"));
    const tls = new Channel("127.0.0.1:1", { tls: { key: "garbage", cert: "garbage" } });
    await assert.rejects(tls.call("s", "m", new Uint8Array(0), { timeoutMs: 100 }), isCode("EINVAL"));
    tls.close();
  });

  it("refuses a request over the size limit, honours abort signals, and closes", async () => {
    const server = await startServer();
    server.addMethod("s", "slow", () => new Promise<Uint8Array>(() => undefined));
    const channel = new Channel(server.address, { maxBodyBytes: 1024 });
    await assert.rejects(
      channel.call("s", "slow", new Uint8Array(2048), { timeoutMs: 1000 }),
      isCode("EINVAL"),
    );
    const controller = new AbortController();
    const aborted = channel.call("s", "slow", new Uint8Array(0), { timeoutMs: 0, signal: controller.signal });
    controller.abort();
    await assert.rejects(aborted, isCode("ECANCELED"));
    const pending = channel.call("s", "slow", new Uint8Array(0), { timeoutMs: 0 });
    await waitFor(() => channel.connected, "connection");
    channel.close();
    await assert.rejects(pending, isCode("ESHUTDOWN"));
    await assert.rejects(
      channel.call("s", "slow", new Uint8Array(0), { timeoutMs: 10 }),
      isCode("ESHUTDOWN"),
    );
  });
});

/** Stops `server` and starts a new one on the same address. */
async function restart(server: RaftServer): Promise<RaftServer> {
  await server.stop();
  return startServer({}, server.address);
}
