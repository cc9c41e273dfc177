/**
 * The kv example's snapshot file through a FileSystemAdaptor (the simulator's kind, in memory)
 * and through the real disk: what writeSnapshotFile writes, readSnapshotFile reads back record
 * for record, across the chunks both sides stream in.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MemoryFileSystemAdaptor } from "../../src/index.js";
import { readSnapshotFile, writeSnapshotFile, type SnapshotRecord } from "../../examples/kv/kv-snapshot.js";

/** The size of the chunks readSnapshotFile reads. */
const CHUNK_BYTES = 1 << 20;

/**
 * About 3.3 MiB of records, so both sides use several chunks, with multi-byte characters
 * throughout; the first record puts a 3-byte character across the first chunk boundary.
 */
function manyRecords(): SnapshotRecord[] {
  const prefixBytes = Buffer.byteLength('{"k":"split","v":"');
  const records: SnapshotRecord[] = [{ k: "split", v: `${"x".repeat(CHUNK_BYTES - 1 - prefixBytes)}€€` }];
  for (let i = 0; i < 15_000; i++) {
    records.push({ k: `key-${i}-é`, v: `${"valeur-€-".repeat(10)}${i}` });
    if (i % 3 === 0) records.push({ r: `client/${i}`, p: i % 2 === 0 ? null : `prev-🙂-${i}` });
  }
  return records;
}

async function readAll(records: AsyncIterable<SnapshotRecord>): Promise<SnapshotRecord[]> {
  const read: SnapshotRecord[] = [];
  for await (const record of records) read.push(record);
  return read;
}

const folder = mkdtempSync(join(tmpdir(), "tsraft-kv-snapshot-"));
after(() => rmSync(folder, { recursive: true, force: true }));

describe("kv snapshot file", () => {
  it("reads back what it wrote through a FileSystemAdaptor, across chunks", async () => {
    const fs = new MemoryFileSystemAdaptor();
    await fs.createDirectory("/snapshot", true);
    const records = manyRecords();
    await writeSnapshotFile("/snapshot/kv.jsonl", records, fs);
    assert.deepEqual(await readAll(readSnapshotFile("/snapshot/kv.jsonl", fs)), records);
  });

  it("reads back what it wrote on the real disk (the default), and an empty map as no records", async () => {
    const records = manyRecords();
    await writeSnapshotFile(join(folder, "kv.jsonl"), records);
    assert.deepEqual(await readAll(readSnapshotFile(join(folder, "kv.jsonl"))), records);
    await writeSnapshotFile(join(folder, "kv.jsonl"), []);
    assert.deepEqual(await readAll(readSnapshotFile(join(folder, "kv.jsonl"))), []);
  });
});
