/**
 * FaultProxy on a TCP echo server: a link passes, stalls while blackholed (delivering late on a
 * resume, dropping connections on a reset), delays, and cuts one direction only.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { FaultProxy } from "../../src/testing/fault-proxy.js";

async function echoServer(): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { server, endpoint: `127.0.0.1:${port}` };
}

function dial(address: string): Promise<Socket> {
  const [host, port] = address.split(":");
  return new Promise((resolve, reject) => {
    const socket = connect({ host: host as string, port: Number(port) }, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** The next data within `timeoutMs`, or undefined. */
function nextData(socket: Socket, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off("data", onData);
      resolve(undefined);
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      clearTimeout(timer);
      resolve(chunk.toString());
    };
    socket.once("data", onData);
  });
}

test("FaultProxy: pass, blackhole then resume or reset, delay, one direction only", async () => {
  const a = await echoServer();
  const b = await echoServer();
  const proxy = await FaultProxy.start([a.endpoint, b.endpoint]);
  const sockets: Socket[] = [];
  try {
    const viaAB = proxy.addressMap(a.endpoint).get(b.endpoint) as string;
    const viaBA = proxy.addressMap(b.endpoint).get(a.endpoint) as string;
    const ab = await dial(viaAB);
    sockets.push(ab);
    ab.write("hello");
    assert.equal(await nextData(ab, 2000), "hello");

    proxy.cut(a.endpoint, b.endpoint);
    ab.write("lost?");
    assert.equal(await nextData(ab, 300), undefined, "nothing passes a cut link");
    const ba = await dial(viaBA);
    sockets.push(ba);
    ba.write("other way");
    assert.equal(await nextData(ba, 2000), "other way", "the reverse link still works");
    const late = await dial(viaAB); // accepted, but not connected onward while cut
    sockets.push(late);
    late.write("queued");
    assert.equal(await nextData(late, 300), undefined);

    const resumed = nextData(ab, 2000);
    const lateResumed = nextData(late, 2000);
    proxy.healAll();
    assert.equal(await resumed, "lost?", "a resumed link delivers what was sent during the cut");
    assert.equal(await lateResumed, "queued");

    proxy.cut(a.endpoint, b.endpoint);
    const closed = new Promise((resolve) => ab.once("close", resolve));
    proxy.healAll({ reset: true });
    await closed;

    const slow = await dial(viaAB);
    sockets.push(slow);
    proxy.link(a.endpoint, b.endpoint).setDelay(150);
    const started = performance.now();
    slow.write("slow");
    assert.equal(await nextData(slow, 2000), "slow");
    assert.ok(performance.now() - started >= 290, "delayed both ways");
    assert.deepEqual(proxy.cuts(), []);
  } finally {
    for (const socket of sockets) socket.destroy();
    await proxy.close();
    a.server.close();
    b.server.close();
  }
});
