/** braft messages <-> core messages, RpcMeta frames, PeerId forms. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import type { AppendEntriesRequest } from "../../src/core/messages.js";
import { EntryType } from "../../src/core/types.js";
import { decodeFrame, decompressMessage, encodeRequest, encodeResponse } from "../../src/rpc/baidu-std.js";
import * as codec from "../../src/rpc/codec.js";
import { FrameParser } from "../../src/rpc/frame.js";
import { AppendEntriesRequestSchema, RequestVoteResponseSchema } from "../../src/rpc/gen/braft/raft_pb.js";
import { canonicalPeerKey, parsePeerId } from "../../src/util/peer-text.js";
import { ProtoParseError } from "../../src/rpc/proto-util.js";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { FC_SEED } from "../fc-seed.js";

// The same inputs on every run: npm test is reproducible.
fc.configureGlobal({ seed: FC_SEED });

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const append: AppendEntriesRequest = {
  groupId: "Counter",
  serverId: "10.0.0.1:8100:0",
  peerId: "10.0.0.2:8100:0",
  term: 5,
  prevLogTerm: 4,
  prevLogIndex: 99,
  committedIndex: 98,
  entries: [
    { index: 100, term: 5, type: EntryType.NO_OP, data: new Uint8Array(0) },
    { index: 101, term: 5, type: EntryType.DATA, data: bytes("hello") },
    {
      index: 102,
      term: 5,
      type: EntryType.CONFIGURATION,
      data: new Uint8Array(0),
      conf: {
        peers: ["10.0.0.1:8100:0", "10.0.0.3:8100:0"],
        oldPeers: ["10.0.0.1:8100:0", "10.0.0.2:8100:0"],
      },
    },
    { index: 103, term: 5, type: EntryType.DATA, data: bytes("world!") },
    {
      index: 104,
      term: 5,
      type: EntryType.CONFIGURATION,
      data: new Uint8Array(0),
      conf: { peers: ["10.0.0.1:8100:0"], learners: ["10.0.0.9:8100:0"] },
    },
  ],
};

describe("codec", () => {
  it("round-trips AppendEntries with data in the attachment", () => {
    const { message, attachment } = codec.encodeAppendEntriesRequest(append);
    assert.equal(Buffer.from(concat(attachment)).toString(), "helloworld!");
    const decoded = codec.decodeAppendEntriesRequest(message, concat(attachment));
    assert.deepEqual(
      decoded.entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString() })),
      append.entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString() })),
    );
    assert.deepEqual({ ...decoded, entries: [] }, { ...append, entries: [] });
  });

  it("writes braft's EntryMeta: term, type, data_len always, peers only for configurations", () => {
    const { message } = codec.encodeAppendEntriesRequest(append);
    const parsed = codec.decodeAppendEntriesRequest(message, new Uint8Array(11));
    assert.equal(parsed.entries.length, 5);
    const pb = codec.encodeAppendEntriesRequest({ ...append, entries: [append.entries[1]!] }).message;
    // EntryMeta{term=5, type=DATA, data_len=5} = 08 05 10 02 20 05, inside field 7.
    assert.ok(Buffer.from(pb).includes(Buffer.from("3a060805100220 05".replace(/ /g, ""), "hex")));
  });

  it("rejects entries whose data_len overruns the attachment", () => {
    const { message } = codec.encodeAppendEntriesRequest(append);
    assert.throws(() => codec.decodeAppendEntriesRequest(message, bytes("short")), ProtoParseError);
  });

  it("rejects a message missing a required field, as braft's parser does", () => {
    const noSuccess = toBinary(
      RequestVoteResponseSchema,
      create(RequestVoteResponseSchema, { term: 1n, granted: true }),
    ).subarray(0, 2);
    assert.throws(
      () => codec.decodeVoteResponse(noSuccess),
      /missing required field braft.RequestVoteResponse.granted/,
    );
  });

  it("rejects int64 values beyond 2^53", () => {
    const message = toBinary(
      AppendEntriesRequestSchema,
      create(AppendEntriesRequestSchema, {
        groupId: "g",
        serverId: "1.1.1.1:1:0",
        peerId: "1.1.1.1:2:0",
        term: 2n ** 60n,
        prevLogTerm: 0n,
        prevLogIndex: 0n,
        committedIndex: 0n,
      }),
    );
    assert.throws(() => codec.decodeAppendEntriesRequest(message, new Uint8Array(0)), /beyond 2\^53/);
  });

  it("round-trips votes, TimeoutNow and InstallSnapshot", () => {
    const vote = {
      groupId: "g",
      serverId: "1.2.3.4:5:0",
      peerId: "1.2.3.4:6:1",
      term: 9,
      lastLogTerm: 8,
      lastLogIndex: 77,
      preVote: true,
      disruptedLeader: { peerId: "1.2.3.4:7:0", term: 8 },
    };
    assert.deepEqual(codec.decodeVoteRequest(codec.encodeVoteRequest(vote), true), vote);
    const voteResponse = { term: 9, granted: false, rejectedByLease: true, disrupted: true, previousTerm: 8 };
    assert.deepEqual(codec.decodeVoteResponse(codec.encodeVoteResponse(voteResponse)), voteResponse);
    const aeResponse = { term: 3, success: false, lastLogIndex: 42, readonly: true };
    assert.deepEqual(
      codec.decodeAppendEntriesResponse(codec.encodeAppendEntriesResponse(aeResponse)),
      aeResponse,
    );
    const timeoutNow = { groupId: "g", serverId: "1.2.3.4:5:0", peerId: "1.2.3.4:6:0", term: 3 };
    assert.deepEqual(codec.decodeTimeoutNowRequest(codec.encodeTimeoutNowRequest(timeoutNow)), timeoutNow);
    assert.deepEqual(
      codec.decodeTimeoutNowResponse(codec.encodeTimeoutNowResponse({ term: 4, success: true })),
      { term: 4, success: true },
    );
    const install = {
      groupId: "g",
      serverId: "1.2.3.4:5:0",
      peerId: "1.2.3.4:6:0",
      term: 3,
      uri: "remote://1.2.3.4:5/123456789",
      meta: { lastIncludedIndex: 1000, lastIncludedTerm: 2, conf: { peers: ["1.2.3.4:5:0", "1.2.3.4:6:0"] } },
    };
    assert.deepEqual(
      codec.decodeInstallSnapshotRequest(codec.encodeInstallSnapshotRequest(install)),
      install,
    );
    assert.deepEqual(
      codec.decodeInstallSnapshotResponse(codec.encodeInstallSnapshotResponse({ term: 3, success: false })),
      { term: 3, success: false },
    );
  });

  it("encodes TimeoutNowRequest exactly as protoc does", () => {
    const encoded = codec.encodeTimeoutNowRequest({
      groupId: "g",
      serverId: "1.2.3.4:5:0",
      peerId: "1.2.3.4:6:0",
      term: 3,
    });
    const expected = Buffer.concat([
      Buffer.from("0a0167", "hex"),
      Buffer.from("120b", "hex"),
      Buffer.from("1.2.3.4:5:0"),
      Buffer.from("1a0b", "hex"),
      Buffer.from("1.2.3.4:6:0"),
      Buffer.from("2003", "hex"),
    ]);
    assert.deepEqual(Buffer.from(encoded), expected);
  });

  it("canonicalizes every PeerId form braft writes", () => {
    assert.equal(canonicalPeerKey("1.2.3.4:80"), "1.2.3.4:80:0");
    assert.equal(canonicalPeerKey("1.2.3.4:80:2"), "1.2.3.4:80:2");
    assert.equal(canonicalPeerKey("1.2.3.4:80:2:0"), "1.2.3.4:80:2");
    assert.equal(canonicalPeerKey("1.2.3.4:80:2:1"), "1.2.3.4:80:2:1");
    for (const bad of ["", "1.2.3.4", "1.2.3.4:x", "1.2.3.4:70000", "1.2.3.4:1:2:3", "a:1:2:3:4", ":80"]) {
      assert.equal(parsePeerId(bad), undefined, bad);
    }
    const vote = codec.encodeVoteRequest({
      groupId: "g",
      serverId: "1.2.3.4:5",
      peerId: "1.2.3.4:6:0:0",
      term: 1,
      lastLogTerm: 0,
      lastLogIndex: 0,
      preVote: false,
    });
    const decoded = codec.decodeVoteRequest(vote, false);
    assert.equal(decoded.serverId, "1.2.3.4:5:0");
    assert.equal(decoded.peerId, "1.2.3.4:6:0");
    assert.equal(decoded.disruptedLeader, undefined);
  });
});

describe("decoders on hostile bytes", () => {
  const validAppend = codec.encodeAppendEntriesRequest(append);
  const decoders: ((message: Uint8Array, attachment: Uint8Array) => unknown)[] = [
    (m) => codec.decodeVoteRequest(m, false),
    (m) => codec.decodeVoteResponse(m),
    (m, a) => codec.decodeAppendEntriesRequest(m, a),
    (m) => codec.decodeAppendEntriesResponse(m),
    (m) => codec.decodeTimeoutNowRequest(m),
    (m) => codec.decodeInstallSnapshotRequest(m),
  ];
  const mutated = fc
    .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 })
    .map((flips) => {
      const bytes = Buffer.from(validAppend.message);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      return new Uint8Array(bytes);
    });

  it("throw nothing but ProtoParseError, for random and for corrupted messages", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 400 }), mutated),
        fc.uint8Array({ maxLength: 16 }),
        (message, attachment) => {
          for (const decode of decoders) {
            try {
              decode(message, attachment);
            } catch (err) {
              if (!(err instanceof ProtoParseError)) throw err;
            }
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("RpcMeta frames", () => {
  it("round-trips a request with meta fields and a multi-part attachment", () => {
    const parts = encodeRequest({
      service: "braft.RaftService",
      method: "append_entries",
      correlationId: 2n ** 62n + 5n,
      message: bytes("msg"),
      attachment: [bytes("ab"), bytes("cde")],
      timeoutMs: 250,
      logId: 42n,
    });
    const [raw] = new FrameParser().push(Buffer.concat(parts));
    assert.ok(raw);
    const frame = decodeFrame(raw);
    assert.equal(frame.meta.request?.serviceName, "braft.RaftService");
    assert.equal(frame.meta.request?.methodName, "append_entries");
    assert.equal(frame.meta.request?.timeoutMs, 250);
    assert.equal(frame.meta.request?.logId, 42n);
    assert.equal(frame.meta.correlationId, 2n ** 62n + 5n, "a bthread-sized id survives exactly");
    assert.equal(frame.meta.attachmentSize, 5);
    assert.equal(Buffer.from(frame.message).toString(), "msg");
    assert.equal(Buffer.from(frame.attachment).toString(), "abcde");
  });

  it("leaves attachment_size unset without an attachment, and drops the body of an error", () => {
    const [ok] = new FrameParser().push(
      Buffer.concat(encodeResponse({ correlationId: 1n, message: bytes("r") })),
    );
    assert.ok(ok);
    const okFrame = decodeFrame(ok);
    assert.equal(okFrame.meta.attachmentSize, 0);
    assert.ok(okFrame.meta.response !== undefined);
    const [failed] = new FrameParser().push(
      Buffer.concat(
        encodeResponse({
          correlationId: 2n,
          message: bytes("r"),
          attachment: bytes("a"),
          errorCode: 2,
          errorText: "x",
        }),
      ),
    );
    assert.ok(failed);
    const failedFrame = decodeFrame(failed);
    assert.equal(failedFrame.meta.response?.errorCode, 2);
    assert.equal(failedFrame.meta.response?.errorText, "x");
    assert.equal(failedFrame.message.length + failedFrame.attachment.length, 0);
  });

  it("flags an attachment_size larger than the body instead of trusting it", () => {
    const parts = encodeRequest({ service: "s", method: "m", correlationId: 1n, message: bytes("12345") });
    const [raw] = new FrameParser().push(Buffer.concat(parts));
    assert.ok(raw);
    const frame = decodeFrame({ meta: raw.meta, payload: raw.payload.subarray(0, 0) });
    assert.equal(frame.badAttachmentSize, false);
    const withAttachment = Buffer.concat(
      encodeRequest({
        service: "s",
        method: "m",
        correlationId: 1n,
        message: bytes(""),
        attachment: bytes("abc"),
      }),
    );
    const [raw2] = new FrameParser().push(withAttachment);
    assert.ok(raw2);
    assert.equal(
      decodeFrame({ meta: raw2.meta, payload: raw2.payload.subarray(0, 2) }).badAttachmentSize,
      true,
    );
  });

  it("inflates gzip and zlib messages and refuses snappy", () => {
    assert.equal(Buffer.from(decompressMessage(gzipSync("hi"), 2, 100)).toString(), "hi");
    assert.throws(() => decompressMessage(bytes("x"), 1, 100), /unsupported compress type 1/);
    assert.throws(() => decompressMessage(gzipSync("x".repeat(1000)), 2, 100));
  });
});
