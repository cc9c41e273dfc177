/**
 * baidu_std frames real braft sent (test/rpc/fixtures/braft/frames, recorded by
 * test/interop/capture-frames.ts from braft v1.1.2-119 and its braft_cli): tsraft's frame parser,
 * its generated messages and its hand-written codecs read every one, know every field braft sets,
 * and canonicalize the PeerIds braft writes as `ip:port:idx:role`; the hand-written codecs
 * re-encode what they decoded into the same message (PeerIds in canonical form). Answers the
 * capture asked for itself carry what braft must have said (`expect`: error name, or fields),
 * checked here on the decoded bytes.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { canonicalPeerKey } from "../../src/util/peer-text.js";
import { decodeFrame } from "../../src/rpc/baidu-std.js";
import {
  decodeAppendEntriesRequest,
  decodeAppendEntriesResponse,
  decodeInstallSnapshotRequest,
  decodeInstallSnapshotResponse,
  decodeTimeoutNowRequest,
  decodeTimeoutNowResponse,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntriesRequest,
  encodeAppendEntriesResponse,
  encodeInstallSnapshotRequest,
  encodeInstallSnapshotResponse,
  encodeTimeoutNowRequest,
  encodeTimeoutNowResponse,
  encodeVoteRequest,
  encodeVoteResponse,
} from "../../src/rpc/codec.js";
import { decodeSegments, encodeSegment } from "../../src/rpc/file-seg-data.js";
import { errorFromWire } from "../../src/rpc/rpc-errors.js";
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
  /** What the capture's scenario knows braft answered (CliService calls it made itself). */
  readonly expect?: {
    readonly error?: string;
    readonly fields?: Readonly<Record<string, string | readonly string[]>>;
  };
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

/** A PeerId as braft writes it (`ip:port`, `ip:port:idx` or `ip:port:idx:role`). */
const PEER_TEXT = /^\d+\.\d+\.\d+\.\d+:\d+(:\d+){0,2}$/;

/**
 * Every field's value (an unset optional reads as its default, as braft's generated getters do),
 * with PeerIds canonical: how braft's and tsraft's encodings of one message compare.
 */
function fieldValues(schema: DescMessage, message: Message): Record<string, unknown> {
  const fields = message as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const field of schema.fields) {
    const value = fields[field.localName];
    if (field.fieldKind === "message") {
      out[field.localName] = value === undefined ? undefined : fieldValues(field.message, value as Message);
    } else if (field.fieldKind === "list" && field.listKind === "message") {
      out[field.localName] = (value as Message[]).map((v) => fieldValues(field.message, v));
    } else if (Array.isArray(value)) {
      out[field.localName] = value.map(canonicalText);
    } else {
      out[field.localName] = canonicalText(value);
    }
  }
  return out;
}

const canonicalText = (value: unknown): unknown =>
  typeof value === "string" && PEER_TEXT.test(value) ? canonicalPeerKey(value) : value;

function canonicalFields(schema: DescMessage, bytes: Uint8Array): Record<string, unknown> {
  return fieldValues(schema, fromBinary(schema, bytes));
}

/**
 * The hand-written codec tsraft uses on the hot path, where there is one: it reads braft's bytes
 * (PeerIds canonical) and encodes what it read back into the same message.
 */
function checkHotPathCodec(
  fixture: FrameFixture,
  schema: DescMessage,
  message: Uint8Array,
  attachment: Uint8Array,
): void {
  const reencoded = hotPathRoundTrip(fixture, message, attachment);
  if (reencoded === undefined) return;
  assert.deepEqual(canonicalFields(schema, reencoded), canonicalFields(schema, message), "re-encoded alike");
}

/** Decodes with the hot-path codec, checks what braft must have set, and re-encodes. */
function hotPathRoundTrip(
  fixture: FrameFixture,
  message: Uint8Array,
  attachment: Uint8Array,
): Uint8Array | undefined {
  const request = fixture.kind === "request";
  switch (fixture.method) {
    case "braft.RaftService.pre_vote":
    case "braft.RaftService.request_vote": {
      if (!request) {
        const r = decodeVoteResponse(message);
        assert.ok(r.term > 0);
        return encodeVoteResponse(r);
      }
      const r = decodeVoteRequest(message, fixture.method.endsWith("pre_vote"));
      assert.match(r.serverId, CANONICAL);
      assert.match(r.peerId, CANONICAL);
      return encodeVoteRequest(r);
    }
    case "braft.RaftService.append_entries": {
      if (!request) {
        const r = decodeAppendEntriesResponse(message);
        assert.ok(r.term > 0);
        return encodeAppendEntriesResponse(r);
      }
      const r = decodeAppendEntriesRequest(message, attachment);
      assert.match(r.serverId, CANONICAL);
      const dataBytes = r.entries.reduce((sum, e) => sum + e.data.length, 0);
      assert.equal(dataBytes, attachment.length, "entry data fill the attachment");
      for (const e of r.entries) for (const p of e.conf?.peers ?? []) assert.match(p, CANONICAL);
      const encoded = encodeAppendEntriesRequest(r);
      assert.deepEqual(Buffer.concat(encoded.attachment), Buffer.from(attachment), "same attachment");
      return encoded.message;
    }
    case "braft.RaftService.timeout_now": {
      if (!request) {
        const r = decodeTimeoutNowResponse(message);
        assert.ok(r.term > 0);
        return encodeTimeoutNowResponse(r);
      }
      const r = decodeTimeoutNowRequest(message);
      assert.match(r.serverId, CANONICAL);
      return encodeTimeoutNowRequest(r);
    }
    case "braft.RaftService.install_snapshot": {
      if (!request) {
        const r = decodeInstallSnapshotResponse(message);
        assert.ok(r.term > 0);
        assert.equal(r.success, true, "braft installed the snapshot");
        return encodeInstallSnapshotResponse(r);
      }
      const r = decodeInstallSnapshotRequest(message);
      assert.match(r.uri, /^remote:\/\/[\d.]+:\d+\/-?\d+$/);
      for (const p of r.meta.conf.peers) assert.match(p, CANONICAL);
      return encodeInstallSnapshotRequest(r);
    }
    default:
      return undefined;
  }
}

/** A decoded field as the expectation writes it: peer lists as sorted canonical sets. */
function fieldText(value: unknown): string | readonly string[] {
  if (Array.isArray(value)) return value.map((v) => canonicalPeerKey(String(v))).sort();
  const text = String(value);
  return PEER_TEXT.test(text) ? canonicalPeerKey(text) : text;
}

/** An answer the capture asked for: braft's error, or the fields it must have returned. */
function checkExpectation(
  fixture: FrameFixture,
  frame: ReturnType<typeof decodeFrame>,
  message: Message,
): void {
  const { expect } = fixture;
  if (expect === undefined) return;
  if (expect.error !== undefined) {
    const error = errorFromWire(fixture.errorCode, frame.meta.response?.errorText ?? "");
    assert.equal(error.code, expect.error, `braft refused with ${expect.error}: ${error.message}`);
    assert.notEqual(frame.meta.response?.errorText ?? "", "", "braft says why");
    return;
  }
  for (const [name, want] of Object.entries(expect.fields ?? {})) {
    const got = fieldText((message as unknown as Record<string, unknown>)[name]);
    assert.deepEqual(got, typeof want === "string" ? fieldText(want) : fieldText(want), name);
  }
}

/** FileService: a read of a named file from a reader; the answer's data is the attachment. */
function checkFileService(fixture: FrameFixture, message: Message, attachment: Uint8Array): void {
  if (fixture.method !== "braft.FileService.get_file") return;
  const m = message as unknown as Record<string, unknown>;
  if (fixture.kind === "request") {
    assert.notEqual(m["readerId"], 0n, "a reader id");
    assert.ok(["__raft_snapshot_meta", "data"].includes(String(m["filename"])), String(m["filename"]));
    assert.ok((m["count"] as bigint) > 0n);
    return;
  }
  // braft's FileSegData: the data travel as segments, each with its offset and length.
  const segments = decodeSegments(attachment);
  const dataBytes = segments.reduce((sum, segment) => sum + segment.data.length, 0);
  assert.equal(m["readSize"], BigInt(dataBytes), "read_size counts the segments' data");
  const reencoded = segments.flatMap((segment) => encodeSegment(segment.offset, segment.data));
  assert.deepEqual(Buffer.concat(reencoded), Buffer.from(attachment), "segments re-encoded alike");
}

describe("frames real braft sent", () => {
  it("BraftFrameSet: every RaftService, CliService and FileService method, both ways, entries with and without data, refusals", () => {
    const methods = new Set(index.frames.map((f) => `${f.kind} ${f.method}`));
    const raft = ["pre_vote", "request_vote", "append_entries", "install_snapshot", "timeout_now"];
    const cli = [
      "add_peer",
      "remove_peer",
      "change_peers",
      "reset_peer",
      "snapshot",
      "get_leader",
      "transfer_leader",
    ];
    const wanted = [
      ...raft.flatMap((m) => [`request braft.RaftService.${m}`, `response braft.RaftService.${m}`]),
      ...cli.flatMap((m) => [`request braft.CliService.${m}`, `response braft.CliService.${m}`]),
      "request braft.FileService.get_file",
      "response braft.FileService.get_file",
    ];
    for (const want of wanted) assert.ok(methods.has(want), want);
    const files = new Set(index.frames.map((f) => f.file.replace(/-\d+\.bin$/, "")));
    assert.ok(files.has("request-braft.RaftService.append_entries-plain"), "heartbeats and probes");
    assert.ok(files.has("request-braft.RaftService.append_entries-attachment"), "entries with data");
    const refusals = index.frames.filter((f) => f.errorCode !== 0 && f.expect?.error !== undefined);
    assert.ok(refusals.length >= 3, "CliService refusals with the error braft gives");
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
      const schema = schemaOf(fixture);
      const message = fromBinary(schema, frame.message) as Message & { $unknown?: unknown[] };
      checkExpectation(fixture, frame, message);
      if (fixture.errorCode !== 0) return;
      assert.equal(message.$unknown, undefined, "no field unknown to tsraft's .proto files");
      assert.deepEqual(Buffer.from(toBinary(schema, message)), Buffer.from(frame.message));
      checkHotPathCodec(fixture, schema, frame.message, frame.attachment);
      checkFileService(fixture, message, frame.attachment);
    });
  }
});
