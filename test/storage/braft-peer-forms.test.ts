/**
 * braft's PeerId forms in the files it writes (issue 15): PeerId::to_string writes
 * `ip:port:idx:role`, older braft `ip:port:idx`, and an absent vote as the empty PeerId.
 * tsraft reads every form to the canonical key and writes what every braft version parses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { toMetaData } from "../../src/node/snapshot-executor.js";
import { decodeConfiguration, decodeStableMeta, encodeStableMeta } from "../../src/storage/local/pb-codec.js";
import { decodeSnapshotMeta } from "../../src/storage/local/snapshot-meta-codec.js";

function strings(fields: [number, string][]): Uint8Array {
  const w = new BinaryWriter();
  for (const [field, value] of fields) w.tag(field, WireType.LengthDelimited).string(value);
  return w.finish();
}

/** braft's StablePBMeta bytes (raft_meta). */
function stableMeta(term: number, votedfor: string): Uint8Array {
  const w = new BinaryWriter().tag(1, WireType.Varint).int64(term);
  return w.tag(2, WireType.LengthDelimited).string(votedfor).finish();
}

describe("braft's PeerId forms on disk", () => {
  it("SnapshotMetaRoleForm: peers written ip:port:idx:role decode to ip:port:idx, a witness keeps :1", () => {
    const w = new BinaryWriter();
    w.tag(1, WireType.Varint).int64(12).tag(2, WireType.Varint).int64(3);
    w.tag(3, WireType.LengthDelimited).string("127.0.0.1:19209:0:0");
    w.tag(3, WireType.LengthDelimited).string("127.0.0.1:19712:0:0");
    w.tag(3, WireType.LengthDelimited).string("127.0.0.1:19713:2:1");
    w.tag(4, WireType.LengthDelimited).string("127.0.0.1:19209");
    const meta = decodeSnapshotMeta(w.finish());
    assert.deepEqual(meta.peers, ["127.0.0.1:19209:0", "127.0.0.1:19712:0", "127.0.0.1:19713:2:1"]);
    assert.deepEqual(meta.oldPeers, ["127.0.0.1:19209:0"]);
  });

  it("ConfigurationEntryRoleForm: a configuration entry braft wrote decodes to canonical peers", () => {
    const conf = decodeConfiguration(
      strings([
        [1, "127.0.0.1:8100:0:0"],
        [1, "127.0.0.1:8101:0"],
        [2, "127.0.0.1:8102:0:0"],
      ]),
    );
    assert.deepEqual(conf, {
      peers: ["127.0.0.1:8100:0", "127.0.0.1:8101:0"],
      oldPeers: ["127.0.0.1:8102:0"],
    });
  });

  it("StableMetaVotedFor: braft's vote reads canonical, its empty PeerId reads as no vote", () => {
    assert.deepEqual(decodeStableMeta(stableMeta(4, "127.0.0.1:8101:0:0")), {
      term: 4,
      votedFor: "127.0.0.1:8101:0",
    });
    assert.deepEqual(decodeStableMeta(stableMeta(4, "0.0.0.0:0:0:0")), { term: 4, votedFor: "" });
    assert.deepEqual(decodeStableMeta(stableMeta(4, "0.0.0.0:0:0")), { term: 4, votedFor: "" });
    assert.deepEqual(decodeStableMeta(stableMeta(4, "")), { term: 4, votedFor: "" });
  });

  it("StableMetaNoVote: no vote is written as braft's empty PeerId, which braft's load parses", () => {
    const bytes = encodeStableMeta({ term: 2, votedFor: "" });
    assert.deepEqual(bytes, stableMeta(2, "0.0.0.0:0:0"));
    assert.deepEqual(decodeStableMeta(bytes), { term: 2, votedFor: "" });
  });

  it("ToMetaDataCanonical: any SnapshotStorage's meta reaches the core with canonical peers", () => {
    const data = toMetaData({
      lastIncludedIndex: 5,
      lastIncludedTerm: 1,
      peers: ["10.0.0.1:8100:0:0", "10.0.0.2:8100"],
      learners: ["10.0.0.3:8100:0:0"],
    });
    assert.deepEqual(data.conf, {
      peers: ["10.0.0.1:8100:0", "10.0.0.2:8100:0"],
      learners: ["10.0.0.3:8100:0"],
    });
  });
});
