/**
 * Large entries over baidu_std: the entry size limit apply() enforces against the bytes really
 * framed, the separate connection for appends, and large frames assembled as they arrive.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EntryType } from "../../src/core/types.js";
import { maxAppendDataBytes, APPEND_FRAMING_MARGIN_BYTES } from "../../src/rpc/append-budget.js";
import { encodeRequest } from "../../src/rpc/baidu-std.js";
import { ChannelPool } from "../../src/rpc/channel-pool.js";
import { encodeAppendEntriesRequest } from "../../src/rpc/codec.js";
import {
  ASSEMBLE_FRAME_BYTES_MIN,
  DEFAULT_MAX_BODY_BYTES,
  FrameParser,
  HEADER_BYTES,
  encodeHeader,
} from "../../src/rpc/frame.js";
import { RaftServer } from "../../src/server.js";
import { laneOfAppend } from "../../src/rpc/lanes.js";

test("AppendBudget: the largest entry allowed fits one frame, with the margin to spare", () => {
  const groupId = "a-group-with-a-rather-long-name";
  const max = maxAppendDataBytes(DEFAULT_MAX_BODY_BYTES, groupId);
  assert.equal(new RaftServer().maxEntryDataBytes(groupId), max);
  const id = "255.255.255.255:65535:4294967295";
  const big = Number.MAX_SAFE_INTEGER;
  const encoded = encodeAppendEntriesRequest({
    groupId,
    serverId: id,
    peerId: id,
    term: big,
    prevLogTerm: big,
    prevLogIndex: big,
    committedIndex: big,
    entries: [{ index: big, term: big, type: EntryType.DATA, data: new Uint8Array(max) }],
  });
  const parts = encodeRequest({
    service: "braft.RaftService",
    method: "append_entries",
    correlationId: 2n ** 63n - 1n,
    message: encoded.message,
    attachment: encoded.attachment,
    timeoutMs: 2 ** 31 - 1,
    logId: 2n ** 63n - 1n,
  });
  const bodyBytes = parts.reduce((sum, part) => sum + part.length, 0) - HEADER_BYTES;
  assert.ok(bodyBytes <= DEFAULT_MAX_BODY_BYTES - APPEND_FRAMING_MARGIN_BYTES, `body ${bodyBytes}`);
  assert.ok(bodyBytes > DEFAULT_MAX_BODY_BYTES - APPEND_FRAMING_MARGIN_BYTES - 1024, `body ${bodyBytes}`);
});

test("RpcLanes: appends with entries get their own channel, heartbeats share the control one", () => {
  assert.equal(laneOfAppend({ entries: [] }), "control");
  assert.equal(laneOfAppend({ entries: [{}] }), "bulk");
  const pool = new ChannelPool();
  try {
    const control = pool.get("127.0.0.1:1");
    assert.equal(pool.get("127.0.0.1:1", "control"), control);
    assert.notEqual(pool.get("127.0.0.1:1", "bulk"), control);
    assert.deepEqual(pool.endpoints(), ["127.0.0.1:1"]);
  } finally {
    pool.close();
  }
});

test("LargeFrameAssembly: a large frame split anywhere, with frames around it, parses byte for byte", () => {
  const small = (fill: number): Buffer => Buffer.concat([encodeHeader(3, 5), Buffer.alloc(8, fill)]);
  const bodyBytes = ASSEMBLE_FRAME_BYTES_MIN * 2 + 7;
  const body = Buffer.alloc(bodyBytes);
  for (let i = 0; i < bodyBytes; i++) body[i] = (i * 31) & 0xff;
  const stream = Buffer.concat([small(1), encodeHeader(100, bodyBytes - 100), body, small(2), small(3)]);
  for (const chunkBytes of [1000, 65_536, 1_048_575, stream.length]) {
    const parser = new FrameParser();
    const frames = [];
    for (let offset = 0; offset < stream.length; offset += chunkBytes) {
      frames.push(...parser.push(stream.subarray(offset, offset + chunkBytes)));
    }
    assert.equal(frames.length, 4, `chunks of ${chunkBytes}`);
    const large = frames[1]!;
    assert.equal(Buffer.compare(large.meta, body.subarray(0, 100)), 0);
    assert.equal(Buffer.compare(large.payload, body.subarray(100)), 0);
    assert.equal(Buffer.compare(frames[3]!.payload, Buffer.alloc(5, 3)), 0);
    assert.equal(parser.bufferedBytes, 0);
  }
});
