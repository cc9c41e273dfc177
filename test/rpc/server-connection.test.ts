/**
 * The life of an accepted connection as clients that open one per call see it (braft's
 * counter_client): the client's EOF, calls in flight at that moment, the connection's abort
 * signal and remote address, which exist only when a handler asks for them.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect, type Socket } from "node:net";
import { decodeFrame, encodeRequest, type DecodedFrame } from "../../src/rpc/baidu-std.js";
import { FrameParser } from "../../src/rpc/frame.js";
import type { CallContext } from "../../src/rpc/service-registry.js";
import { startServer, stopAll, waitFor } from "./helpers.js";

after(stopAll);

function request(method: string, id: number): Buffer {
  return Buffer.concat(
    encodeRequest({ service: "test.Echo", method, correlationId: BigInt(id), message: Buffer.from("hi") }),
  );
}

/** A client socket that keeps reading after it ended its side (as a half-closing client does). */
async function halfOpenClient(address: string): Promise<{ socket: Socket; frames: DecodedFrame[] }> {
  const colon = address.lastIndexOf(":");
  const socket = connect({
    host: address.slice(0, colon),
    port: Number(address.slice(colon + 1)),
    allowHalfOpen: true,
  });
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const frames: DecodedFrame[] = [];
  const parser = new FrameParser();
  socket.on("data", (chunk: Buffer) => {
    for (const raw of parser.push(chunk)) frames.push(decodeFrame(raw));
  });
  return { socket, frames };
}

/** Resolves when the server closed its side of `socket` (the client read EOF). */
function serverEnded(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once("end", () => resolve()));
}

describe("accepted connections", () => {
  it("closes at once when the client ends its side after its answer", async () => {
    const server = await startServer();
    server.addMethod("test.Echo", "echo", (message) => message);
    const { socket, frames } = await halfOpenClient(server.address);
    socket.write(request("echo", 1));
    await waitFor(() => frames.length === 1, "the answer");
    const ended = serverEnded(socket);
    socket.end();
    await ended;
    socket.destroy();
  });

  it("closes on the client's EOF with a call in flight, as brpc does, and aborts the call's signal", async () => {
    const server = await startServer();
    let seen: CallContext | undefined;
    server.addMethod("test.Echo", "hang", (_message, ctx) => {
      seen = ctx;
      return new Promise<Uint8Array>(() => undefined);
    });
    const { socket, frames } = await halfOpenClient(server.address);
    const ended = serverEnded(socket);
    socket.end(request("hang", 1));
    await ended;
    await waitFor(() => seen?.signal.aborted === true, "the abort");
    assert.equal(frames.length, 0);
    socket.destroy();
  });

  it("gives a handler the caller's address and a signal aborted when the connection closes", async () => {
    const server = await startServer();
    let seen: CallContext | undefined;
    server.addMethod("test.Echo", "hang", (_message, ctx) => {
      seen = ctx;
      return new Promise<Uint8Array>(() => undefined);
    });
    const { socket } = await halfOpenClient(server.address);
    socket.write(request("hang", 1));
    await waitFor(() => seen !== undefined, "the call");
    const ctx = seen as CallContext;
    assert.equal(ctx.remoteAddress, `127.0.0.1:${socket.localPort}`);
    assert.equal(ctx.signal.aborted, false);
    socket.destroy();
    await waitFor(() => ctx.signal.aborted, "the abort");
  });
});
