/**
 * A RaftError's leader and "refused" outcome on the wire, in RpcMeta.user_fields (brpc's string
 * map, which braft ignores): the hand-written codec against protobuf-es both ways, and what
 * errorToWire / errorFromWire make of them.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { RaftError } from "../../src/core/errors.js";
import { RpcMetaSchema } from "../../src/rpc/gen/brpc/policy/baidu_rpc_meta_pb.js";
import { ErrorUserFields, errorFromWire, errorToWire } from "../../src/rpc/rpc-errors.js";
import { decodeRpcMeta, encodeResponseMeta } from "../../src/rpc/wire/rpc-meta-codec.js";

describe("error user_fields", () => {
  it("encode and decode agree with protobuf-es's RpcMeta.user_fields", () => {
    const fields = new Map([
      [ErrorUserFields.LEADER_ID, "127.0.0.1:8101:0"],
      [ErrorUserFields.OUTCOME, "refused"],
      ["ünïcode", "välue"],
    ]);
    const bytes = encodeResponseMeta(7n, 0, 1, "not the leader", fields);
    const reference = fromBinary(RpcMetaSchema, bytes);
    assert.deepEqual(reference.userFields, Object.fromEntries(fields));
    assert.equal(reference.response?.errorCode, 1);
    const back = decodeRpcMeta(toBinary(RpcMetaSchema, reference));
    assert.deepEqual(back.userFields, fields);
    const none = decodeRpcMeta(toBinary(RpcMetaSchema, create(RpcMetaSchema, { correlationId: 1n })));
    assert.equal(none.userFields, undefined, "nothing allocated when absent");
  });

  it("only a leader or a refusal adds fields; errorFromWire reads them back", () => {
    assert.equal(errorToWire(new RaftError("EBUSY", "busy")).userFields, undefined);
    assert.equal(errorToWire(new Error("boom")).userFields, undefined);
    const sent = new RaftError("EPERM", "not the leader", {
      leaderId: "127.0.0.1:8101:0",
      outcome: "refused",
    });
    const { code, text, userFields } = errorToWire(sent);
    const received = errorFromWire(code, text, userFields);
    assert.deepEqual(
      [received.code, received.outcome, received.leaderId, received.message],
      ["EPERM", "refused", "127.0.0.1:8101:0", "not the leader"],
    );
    const plain = errorFromWire(1, "x");
    assert.deepEqual([plain.outcome, plain.leaderId], ["unknown", undefined]);
  });
});
