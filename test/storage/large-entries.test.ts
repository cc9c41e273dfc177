/**
 * The write path of large entries: payloads from PAYLOAD_REFERENCED_BYTES_MIN on are written
 * from their own buffers (writev parts), not copied, and the bytes on disk stay braft's layout.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { EntryType, type LogEntry } from "../../src/core/types.js";
import { ChunkEncoder, PAYLOAD_REFERENCED_BYTES_MIN } from "../../src/storage/local/chunk-encoder.js";
import {
  ENTRY_HEADER_SIZE,
  entryPayload,
  ownBytes,
  writeEntry,
} from "../../src/storage/local/entry-codec.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { partsAfter } from "../../src/storage/local/segment-writer.js";
import { removeDir, tempDir } from "./helpers.js";

/** An entry whose data are `size` bytes of a pattern that differs per index. */
function entryOf(index: number, size: number): LogEntry {
  const data = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) data[i] = (index * 31 + i) & 0xff;
  return { index, term: 3, type: EntryType.DATA, data };
}

/** The same entries encoded the old way: each header and payload copied into one buffer. */
function copiedEncoding(entries: readonly LogEntry[]): Buffer {
  const total = entries.reduce((sum, e) => sum + ENTRY_HEADER_SIZE + e.data.length, 0);
  const buf = Buffer.alloc(total);
  let offset = 0;
  for (const entry of entries) offset = writeEntry(buf, offset, entry, entryPayload(entry));
  return buf;
}

const SIZES = [10, PAYLOAD_REFERENCED_BYTES_MIN, 0, 70_000, 100, PAYLOAD_REFERENCED_BYTES_MIN - 1, 65_536];

describe("large entries on the write path", () => {
  it("ChunkEncoder: the parts hold the same bytes as the copied encoding, large payloads by reference", () => {
    const entries = SIZES.map((size, i) => entryOf(i + 1, size));
    const chunk = new ChunkEncoder().encode(entries, entries.map(entryPayload), 0, Number.POSITIVE_INFINITY);
    assert.deepEqual(Buffer.concat(chunk.parts), copiedEncoding(entries));
    assert.equal(chunk.bytes, copiedEncoding(entries).length);
    for (const entry of entries) {
      const referenced = chunk.parts.some((part) => part === entry.data);
      assert.equal(referenced, entry.data.length >= PAYLOAD_REFERENCED_BYTES_MIN, `entry ${entry.index}`);
    }
    let offset = 0;
    chunk.offsets.forEach((at, i) => {
      assert.equal(at, offset);
      offset += ENTRY_HEADER_SIZE + entries[i]!.data.length;
    });
  });

  it("partsAfter: a short write resumes at the first unwritten byte", () => {
    const parts = [Buffer.from("abc"), Buffer.from("defg"), Buffer.from("h")];
    const rest = (skip: number) => Buffer.concat(partsAfter(parts, skip)).toString();
    assert.equal(rest(0), "abcdefgh");
    assert.equal(rest(3), "defgh");
    assert.equal(rest(5), "fgh");
    assert.equal(rest(7), "h");
    assert.equal(rest(8), "");
  });

  it("ownBytes: a payload with a buffer of its own is kept, a slice of a larger buffer is copied", () => {
    const own = Buffer.allocUnsafeSlow(5000);
    assert.equal(ownBytes(own), own);
    const big = Buffer.alloc(100_000);
    const slice = big.subarray(10, 5010);
    const copied = ownBytes(slice);
    assert.notEqual(copied.buffer, big.buffer);
    assert.deepEqual(Buffer.from(copied), Buffer.from(slice));
  });

  it("SegmentLogStorage: mixed small and 64 KiB entries are read back alike, from memory and after a restart", async () => {
    const dir = await tempDir("tsraft-large-entries-");
    const entries = SIZES.map((size, i) => entryOf(i + 1, size));
    try {
      const log = new SegmentLogStorage(dir, { inlineSync: true });
      await log.init(() => undefined);
      await log.appendEntries(entries.slice(0, 3));
      await log.appendEntries(entries.slice(3));
      for (const entry of entries) assert.deepEqual(log.getEntry(entry.index)?.data, entry.data);
      await log.close();
      const [segment] = readdirSync(dir).filter((name) => name.startsWith("log_"));
      assert.deepEqual(readFileSync(join(dir, segment!)), copiedEncoding(entries));
      const reopened = new SegmentLogStorage(dir);
      await reopened.init(() => undefined);
      for (const entry of entries) {
        assert.deepEqual(Buffer.from(reopened.getEntry(entry.index)!.data), Buffer.from(entry.data));
      }
      await reopened.close();
    } finally {
      await removeDir(dir);
    }
  });
});
