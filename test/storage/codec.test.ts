/** Byte-level formats: checksums, the 24-byte entry header, braft's protobuf messages. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EntryType } from "../../src/core/types.js";
import { crc32cOf, murmurHash3x86x32 } from "../../src/storage/local/checksum.js";
import {
  ENTRY_HEADER_SIZE,
  entryPayload,
  parseHeader,
  writeEntry,
} from "../../src/storage/local/entry-codec.js";
import {
  decodeConfiguration,
  decodeLogMeta,
  encodeConfiguration,
  encodeLogMeta,
} from "../../src/storage/local/pb-codec.js";
import { decodeSnapshotTable, encodeSnapshotTable } from "../../src/storage/local/snapshot-meta-codec.js";
import { confEntry, dataEntry } from "./helpers.js";

describe("checksums", () => {
  it("Crc32c: the Castagnoli check value", () => {
    assert.equal(crc32cOf(Buffer.from("123456789")), 0xe3069283);
    assert.equal(crc32cOf(new Uint8Array(0)), 0);
  });

  it("MurmurHash3: reference vectors of MurmurHash3_x86_32 with seed 0", () => {
    const vectors: [string, number][] = [
      ["", 0],
      ["a", 0x3c2569b2],
      ["abc", 0xb3dd93fa],
      ["abcd", 0x43ed676a],
      ["hello", 0x248bfa47],
      ["The quick brown fox jumps over the lazy dog", 0x2e4ff723],
    ];
    for (const [text, want] of vectors) assert.equal(murmurHash3x86x32(Buffer.from(text), 0), want, text);
  });
});

describe("entry header", () => {
  it("BraftLayout: big-endian term, type<<24|checksum<<16, length, data crc, header crc", () => {
    const entry = dataEntry(7, 0x1_0000_0002, 5);
    const payload = entryPayload(entry);
    const buf = Buffer.alloc(ENTRY_HEADER_SIZE + payload.length);
    assert.equal(writeEntry(buf, 0, entry, payload), buf.length);
    assert.equal(buf.readUInt32BE(0), 1);
    assert.equal(buf.readUInt32BE(4), 2);
    assert.equal(buf.readUInt32BE(8), (EntryType.DATA << 24) | (1 << 16));
    assert.equal(buf.readUInt32BE(12), 5);
    assert.equal(buf.readUInt32BE(16), crc32cOf(entry.data));
    assert.equal(buf.readUInt32BE(20), crc32cOf(buf.subarray(0, 20)));
    assert.deepEqual(buf.subarray(24), Buffer.from(entry.data));
    const header = parseHeader(buf, 0);
    assert.deepEqual(header, {
      term: 0x1_0000_0002,
      type: EntryType.DATA,
      checksumType: 1,
      dataLen: 5,
      dataChecksum: crc32cOf(entry.data),
    });
  });

  it("Verification: a flipped header bit and an unknown checksum type are reported", () => {
    const entry = dataEntry(1, 1, 3);
    const buf = Buffer.alloc(ENTRY_HEADER_SIZE + 3);
    writeEntry(buf, 0, entry, entryPayload(entry));
    const flipped = Buffer.from(buf);
    flipped[3] = (flipped[3] ?? 0) ^ 1;
    assert.equal(parseHeader(flipped, 0), "header checksum mismatch");
    assert.equal(parseHeader(buf.subarray(0, 23), 0), "incomplete entry header");
    const unknown = Buffer.from(buf);
    unknown.writeUInt32BE((EntryType.DATA << 24) | (7 << 16), 8);
    assert.equal(parseHeader(unknown, 0), "unknown checksum type 7");
  });
});

describe("protobuf messages", () => {
  it("ConfigurationPBMeta: peers=1 and old_peers=2 as braft writes them", () => {
    const bytes = encodeConfiguration({ peers: ["a:1:0"], oldPeers: ["b:2:0"] });
    assert.deepEqual([...bytes], [0x0a, 5, ...Buffer.from("a:1:0"), 0x12, 5, ...Buffer.from("b:2:0")]);
    const conf = {
      peers: ["a:1:0", "c:3:0"],
      oldPeers: ["b:2:0"],
      learners: ["d:4:0"],
      oldLearners: ["e:5:0"],
    };
    assert.deepEqual(decodeConfiguration(encodeConfiguration(conf)), conf);
    assert.deepEqual(
      entryPayload(confEntry(1, 1, { peers: ["a:1:0"] })),
      encodeConfiguration({ peers: ["a:1:0"] }),
    );
  });

  it("UnknownFields: fields braft or a newer tsraft adds are skipped", () => {
    const bytes = Buffer.concat([
      Buffer.from(encodeConfiguration({ peers: ["a:1:0"] })),
      Buffer.from([0x48, 0x01]),
    ]);
    assert.deepEqual(decodeConfiguration(bytes), { peers: ["a:1:0"] });
  });

  it("LogPBMeta: first_log_index=1", () => {
    assert.deepEqual([...encodeLogMeta(5)], [0x08, 5]);
    assert.equal(decodeLogMeta(encodeLogMeta(2 ** 40)), 2 ** 40);
    assert.throws(() => decodeLogMeta(new Uint8Array(0)));
  });

  it("LocalSnapshotPbMeta: meta, files and file meta round-trip", () => {
    const table = {
      meta: { lastIncludedIndex: 9, lastIncludedTerm: 3, peers: ["a:1:0"], oldPeers: ["b:2:0"] },
      files: new Map([
        ["data", { userMeta: new Uint8Array([1, 2]), source: "reference" as const, checksum: "abc" }],
        ["other", {}],
      ]),
    };
    assert.deepEqual(decodeSnapshotTable(encodeSnapshotTable(table)), table);
  });
});
