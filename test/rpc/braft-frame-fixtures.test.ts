/**
 * baidu_std frames real braft sent (test/rpc/fixtures/braft/frames, recorded by
 * test/interop/capture-frames.ts from braft v1.1.2-119 and its braft_cli): tsraft's frame parser,
 * its generated messages and its hand-written codecs read every one, know every field braft sets,
 * and canonicalize the PeerIds braft writes as `ip:port:idx:role`.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { decodeFrame } from "../../src/rpc/baidu-std.js";
import {
  decodeAppendEntriesRequest,
  decodeAppendEntriesResponse,
  decodeInstallSnapshotRequest,
  decodeTimeoutNowRequest,
  decodeTimeoutNowResponse,
  decodeVoteRequest,
  decodeVoteResponse,
} from "../../src/rpc/codec.js";
import { FrameParser } from "../../src/rpc/frame.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { FileService } from "../../src/rpc/gen/braft/file_service_pb.js";
import { RaftService } from "../../src/rpc/gen/braft/raft_pb.js";

const FIXTURES = new URL("../../../test/rpc/fixtures/braft/frames/", import.meta.url);

interface FrameFixture {
  readonly file: string;
  readonly kind: "request" | "response";
  readonly method: string;
  readonly attachmentBytes: number;
  readonly errorCode: number;
}

const index = JSON.parse(readFileSync(new URL("index.json", FIXTURES), "utf8")) as {
  frames: FrameFixture[];
};

const services = {
  "braft.RaftService": RaftService,
  "braft.CliService": CliService,
  "braft.FileService": FileService,
};

/** The generated message type of a fixture's request or response. */
function schemaOf(fixture: FrameFixture): DescMessage {
  const dot = fixture.method.lastIndexOf(".");
  const service = services[fixture.method.slice(0, dot) as keyof typeof services];
  assert.ok(service !== undefined, `a known service: ${fixture.method}`);
  const method = service.method[fixture.method.slice(dot + 1) as keyof typeof service.method] as
    { input: DescMessage; output: DescMessage } | undefined;
  assert.ok(method !== undefined, `a known method: ${fixture.method}`);
  return fixture.kind === "request" ? method.input : method.output;
}

function frameOf(fixture: FrameFixture): ReturnType<typeof decodeFrame> {
  const bytes = readFileSync(new URL(fixture.file, FIXTURES));
  const parser = new FrameParser();
  const frames = parser.push(bytes);
  assert.equal(frames.length, 1, "one whole frame");
  assert.equal(parser.bufferedBytes, 0, "nothing left over");
  return decodeFrame(frames[0]!);
}

/** A canonical PeerId: `ip:port:idx`, braft's `:0` role dropped. */
const CANONICAL = /^[\d.]+:\d+:\d+$/;

/** The hand-written codec tsraft uses on the hot path, where there is one. */
function checkHotPathCodec(fixture: FrameFixture, message: Uint8Array, attachment: Uint8Array): void {
  const request = fixture.kind === "request";
  switch (fixture.method) {
    case "braft.RaftService.pre_vote":
    case "braft.RaftService.request_vote":
      if (request) {
        const r = decodeVoteRequest(message, fixture.method.endsWith("pre_vote"));
        assert.match(r.serverId, CANONICAL);
        assert.match(r.peerId, CANONICAL);
      } else assert.ok(decodeVoteResponse(message).term > 0);
      return;
    case "braft.RaftService.append_entries":
      if (request) {
        const r = decodeAppendEntriesRequest(message, attachment);
        assert.match(r.serverId, CANONICAL);
        const dataBytes = r.entries.reduce((sum, e) => sum + e.data.length, 0);
        assert.equal(dataBytes, attachment.length, "entry data fill the attachment");
        for (const e of r.entries) for (const p of e.conf?.peers ?? []) assert.match(p, CANONICAL);
      } else assert.ok(decodeAppendEntriesResponse(message).term > 0);
      return;
    case "braft.RaftService.timeout_now":
      if (request) assert.match(decodeTimeoutNowRequest(message).serverId, CANONICAL);
      else assert.ok(decodeTimeoutNowResponse(message).term > 0);
      return;
    case "braft.RaftService.install_snapshot":
      if (request) {
        const r = decodeInstallSnapshotRequest(message);
        assert.match(r.uri, /^remote:\/\/[\d.]+:\d+\/-?\d+$/);
        for (const p of r.meta.conf.peers) assert.match(p, CANONICAL);
      }
      return;
    default:
      return;
  }
}

describe("frames real braft sent", () => {
  it("BraftFrameSet: the recording covers braft's RaftService, CliService and FileService", () => {
    const methods = new Set(index.frames.map((f) => `${f.kind} ${f.method}`));
    for (const want of [
      "request braft.RaftService.pre_vote",
      "request braft.RaftService.request_vote",
      "request braft.RaftService.append_entries",
      "request braft.RaftService.install_snapshot",
      "request braft.RaftService.timeout_now",
      "request braft.CliService.transfer_leader",
      "response braft.RaftService.append_entries",
      "response braft.RaftService.request_vote",
      "response braft.FileService.get_file",
    ])
      assert.ok(methods.has(want), want);
  });

  for (const fixture of index.frames) {
    it(`BraftFrame ${fixture.file}: parsed, every field known, re-encoded byte for byte`, () => {
      const frame = frameOf(fixture);
      assert.equal(frame.badAttachmentSize, false);
      assert.equal(frame.meta.compressType, 0);
      assert.equal(frame.attachment.length, fixture.attachmentBytes);
      if (fixture.kind === "request") {
        assert.equal(`${frame.meta.request?.serviceName}.${frame.meta.request?.methodName}`, fixture.method);
      } else {
        assert.equal(frame.meta.request, undefined);
        assert.equal(frame.meta.response?.errorCode ?? 0, fixture.errorCode);
      }
      if (fixture.errorCode !== 0) return;
      const schema = schemaOf(fixture);
      const message = fromBinary(schema, frame.message) as Message & { $unknown?: unknown[] };
      assert.equal(message.$unknown, undefined, "no field unknown to tsraft's .proto files");
      assert.deepEqual(Buffer.from(toBinary(schema, message)), Buffer.from(frame.message));
      checkHotPathCodec(fixture, frame.message, frame.attachment);
    });
  }
});
