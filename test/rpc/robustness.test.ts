/**
 * Hostile input against a live server: garbage, truncated and oversized frames, byte-at-a-time
 * delivery, random bytes. A bad connection is closed; the server and its other connections go on.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { decodeFrame, encodeRequest, type DecodedFrame } from "../../src/rpc/baidu-std.js";
import { FrameError, FrameParser, encodeHeader } from "../../src/rpc/frame.js";
import { RpcMetaSchema } from "../../src/rpc/gen/brpc/policy/baidu_rpc_meta_pb.js";
import type { RaftServer } from "../../src/server.js";
import { BrpcErrno } from "../../src/rpc/rpc-errors.js";
import {
  FakeRaftService,
  closed,
  peerOn,
  prng,
  rawConnect,
  startServer,
  stopAll,
  voteRequest,
  waitFor,
} from "./helpers.js";

after(stopAll);

/** A frame with a hand-made meta, for what encodeRequest would never produce. */
function rawFrame(
  meta: MessageInitShape<typeof RpcMetaSchema>,
  message: Uint8Array,
  attachment = new Uint8Array(0),
): Buffer {
  const metaBytes = toBinary(RpcMetaSchema, create(RpcMetaSchema, meta));
  return Buffer.concat([
    encodeHeader(metaBytes.length, message.length + attachment.length),
    metaBytes,
    message,
    attachment,
  ]);
}

/** Collects the response frames arriving on a raw socket. */
function responses(socket: Socket): DecodedFrame[] {
  const frames: DecodedFrame[] = [];
  const parser = new FrameParser();
  socket.on("data", (chunk: Buffer) => {
    for (const raw of parser.push(chunk)) frames.push(decodeFrame(raw));
  });
  return frames;
}

function echoRequest(id: number, body = "ping"): Buffer {
  return Buffer.concat(
    encodeRequest({
      service: "test.Echo",
      method: "echo",
      correlationId: BigInt(id),
      message: Buffer.from(body),
    }),
  );
}

/** The server still answers a well-formed call from a fresh connection. */
async function assertServes(server: RaftServer): Promise<void> {
  const caller = await startServer();
  const response = await caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 2000);
  assert.equal(response.granted, true);
  await caller.stop();
}

async function echoServer(
  options: Parameters<typeof startServer>[0] = {},
): Promise<{ server: RaftServer; errors: Error[] }> {
  const errors: Error[] = [];
  const server = await startServer({ ...options, onConnectionError: (err) => errors.push(err) });
  server.addMethod("test.Echo", "echo", (message) => message);
  server.addMethod("test.Echo", "hang", () => new Promise<Uint8Array>(() => undefined));
  server.registerNode("g", peerOn(server), new FakeRaftService());
  return { server, errors };
}

describe("server robustness", () => {
  it("serves a request delivered one byte per write, split at every byte", async () => {
    const { server } = await echoServer();
    const socket = await rawConnect(server.address);
    socket.setNoDelay(true);
    const frames = responses(socket);
    const request = echoRequest(1, "split");
    for (let i = 0; i < request.length; i++) {
      socket.write(request.subarray(i, i + 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => frames.length === 1, "the response");
    assert.equal(Buffer.from(frames[0]!.message).toString(), "split");
    socket.destroy();
  });

  it("answers pipelined requests on one connection by correlation id", async () => {
    const { server } = await echoServer();
    const socket = await rawConnect(server.address);
    const frames = responses(socket);
    socket.write(Buffer.concat([echoRequest(10, "a"), echoRequest(11, "b"), echoRequest(12, "c")]));
    await waitFor(() => frames.length === 3, "three responses");
    assert.deepEqual(
      frames.map((f) => [f.meta.correlationId, Buffer.from(f.message).toString()]),
      [
        [10n, "a"],
        [11n, "b"],
        [12n, "c"],
      ],
    );
    socket.destroy();
  });

  it("closes a connection that sends garbage, and only that one", async () => {
    const { server, errors } = await echoServer();
    const bystander = await rawConnect(server.address);
    const bystanderFrames = responses(bystander);
    bystander.write(echoRequest(1));
    await waitFor(() => bystanderFrames.length === 1, "bystander's first response");
    for (const garbage of ["\x00\x01\x02\x03\x04", "PRPX0000000000000", "SSH-2.0-OpenSSH\r\n"]) {
      const socket = await rawConnect(server.address);
      socket.write(garbage);
      await closed(socket);
    }
    bystander.write(echoRequest(2));
    await waitFor(() => bystanderFrames.length === 2, "bystander's second response");
    assert.equal(errors.length, 3);
    await assertServes(server);
    bystander.destroy();
  });

  it("closes a connection with a clear error when a frame exceeds the maximum", async () => {
    const { server, errors } = await echoServer({ maxBodyBytes: 4096 });
    const socket = await rawConnect(server.address);
    socket.write(encodeHeader(10, 100_000));
    await closed(socket);
    const [err] = errors;
    assert.ok(err instanceof FrameError && err.reason === "too-large", String(err));
    assert.match(err.message, /100010 bytes exceeds the maximum of 4096 bytes/);
    await assertServes(server);
  });

  it("closes on an unparsable meta or a frame without request meta", async () => {
    const { server, errors } = await echoServer();
    const badMeta = Buffer.from([0xff, 0xff, 0xff]);
    for (const frame of [
      Buffer.concat([encodeHeader(badMeta.length, 0), badMeta]),
      rawFrame({ correlationId: 5n, response: { errorCode: 0 } }, new Uint8Array(0)),
    ]) {
      const socket = await rawConnect(server.address);
      socket.write(frame);
      await closed(socket);
    }
    assert.deepEqual(
      errors.map((e) => (e as FrameError).reason),
      ["bad-meta", "bad-meta"],
    );
  });

  it("answers an unsupported compress type and a bad attachment_size with EREQUEST", async () => {
    const { server } = await echoServer();
    const socket = await rawConnect(server.address);
    const frames = responses(socket);
    const request = { serviceName: "test.Echo", methodName: "echo" };
    socket.write(rawFrame({ request, correlationId: 1n, compressType: 1 }, Buffer.from("x")));
    socket.write(rawFrame({ request, correlationId: 2n, attachmentSize: 50 }, Buffer.from("x")));
    socket.write(echoRequest(3, "still here"));
    await waitFor(() => frames.length === 3, "three responses");
    const [snappy, badSize, ok] = frames;
    assert.equal(snappy?.meta.response?.errorCode, BrpcErrno.EREQUEST);
    assert.match(snappy?.meta.response?.errorText ?? "", /unsupported compress type 1/);
    assert.equal(badSize?.meta.response?.errorCode, BrpcErrno.EREQUEST);
    assert.equal(Buffer.from(ok!.message).toString(), "still here");
    socket.destroy();
  });

  it("inflates a gzip-compressed request as brpc clients may send it", async () => {
    const { server } = await echoServer();
    const socket = await rawConnect(server.address);
    const frames = responses(socket);
    const request = { serviceName: "test.Echo", methodName: "echo" };
    socket.write(rawFrame({ request, correlationId: 1n, compressType: 2 }, gzipSync("packed")));
    await waitFor(() => frames.length === 1, "the response");
    assert.equal(Buffer.from(frames[0]!.message).toString(), "packed");
    socket.destroy();
  });

  it("refuses requests beyond the in-flight limit with ELIMIT", async () => {
    const { server } = await echoServer({ maxInflightPerConnection: 2 });
    const socket = await rawConnect(server.address);
    const frames = responses(socket);
    const hang = (id: number) =>
      Buffer.concat(
        encodeRequest({
          service: "test.Echo",
          method: "hang",
          correlationId: BigInt(id),
          message: new Uint8Array(0),
        }),
      );
    socket.write(Buffer.concat([hang(1), hang(2), hang(3)]));
    await waitFor(() => frames.length === 1, "the refusal");
    assert.equal(frames[0]?.meta.correlationId, 3n);
    assert.equal(frames[0]?.meta.response?.errorCode, BrpcErrno.ELIMIT);
    socket.destroy();
  });

  it("closes idle connections but not ones with calls in flight", async () => {
    const { server } = await echoServer({ idleTimeoutMs: 100 });
    const idle = await rawConnect(server.address);
    idle.write(echoRequest(1));
    const busy = await rawConnect(server.address);
    busy.write(
      Buffer.concat(
        encodeRequest({
          service: "test.Echo",
          method: "hang",
          correlationId: 1n,
          message: new Uint8Array(0),
        }),
      ),
    );
    const silent = await rawConnect(server.address);
    await Promise.all([closed(idle), closed(silent)]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(busy.destroyed, false);
    busy.destroy();
  });

  it("survives random bytes and truncated frames on many connections (seeded fuzz)", async () => {
    const seed = Number(process.env["TSRAFT_FUZZ_SEED"] ?? 20240611);
    const random = prng(seed);
    const { server } = await echoServer({ maxBodyBytes: 64 * 1024 });
    const valid = Buffer.concat([
      echoRequest(1, "fuzz"),
      rawFrame(
        { request: { serviceName: "braft.RaftService", methodName: "append_entries" }, correlationId: 2n },
        Buffer.from([0x0a, 0x01]),
      ),
    ]);
    const sockets: Socket[] = [];
    for (let i = 0; i < 60; i++) {
      const socket = await rawConnect(server.address);
      const kind = i % 3;
      const length = 1 + Math.floor(random() * 2048);
      let bytes = Buffer.from(Array.from({ length }, () => Math.floor(random() * 256)));
      if (kind === 1) bytes = Buffer.concat([Buffer.from("PRPC"), bytes]); // past the sniffer
      if (kind === 2) {
        // A valid stream with random bytes flipped and then cut short.
        bytes = Buffer.from(valid);
        for (let k = 0; k < 3; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
      }
      socket.write(bytes);
      sockets.push(socket);
    }
    await assertServes(server);
    for (const socket of sockets) socket.destroy();
    await assertServes(server);
    assert.ok(true, `seed ${seed}`);
  });
});
