/**
 * Recovery of a local:// log: torn tails of the last segment are cut off and reported; damage to
 * any other segment refuses to start with an error naming the file and offset.
 */
import assert from "node:assert/strict";
import { open, readFile, readdir, rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { EntryType } from "../../src/core/types.js";
import { crc32cOf, murmurHash3x86x32 } from "../../src/storage/local/checksum.js";
import { SegmentLogStorage, localLogCounters } from "../../src/storage/local/segment-log-storage.js";
import { assertEntries } from "./log-contract.js";
import { dataEntries, rejectsWith, removeDir, tempDir } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

const SEGMENT_BYTES = 1024;
const PAYLOAD = 100; // 124 bytes per entry: 9 entries per segment

function storage(dir: string, warnings: string[] = []): SegmentLogStorage {
  return new SegmentLogStorage(dir, {
    raft_max_segment_size: SEGMENT_BYTES,
    recentEntriesMax: 0,
    logger: { warn: (m) => warnings.push(m) },
  });
}

/** A log of entries 1..count in several segments, closed. */
async function buildLog(count: number): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  const log = storage(dir);
  await log.init(() => undefined);
  for (let i = 1; i <= count; i += 5)
    await log.appendEntries(dataEntries(i, Math.min(count, i + 4), 1, PAYLOAD));
  await log.close();
  return dir;
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^log_(inprogress_)?\d/.test(n)).sort();
}

async function reopen(dir: string, warnings: string[] = []): Promise<SegmentLogStorage> {
  const log = storage(dir, warnings);
  await log.init(() => undefined);
  return log;
}

describe("local:// log layout", () => {
  it("SegmentNames: closed log_<first>_<last>, open log_inprogress_<first>, 20 digits, log_meta", async () => {
    const dir = await buildLog(20);
    assert.deepEqual(await segments(dir), [
      "log_00000000000000000001_00000000000000000009",
      "log_00000000000000000010_00000000000000000018",
      "log_inprogress_00000000000000000019",
    ]);
    assert.deepEqual([...(await readFile(join(dir, "log_meta")))], [0, 0, 0, 2, 0x08, 1]);
    const first = await readFile(join(dir, "log_00000000000000000001_00000000000000000009"));
    assert.equal(first.length, 9 * (24 + PAYLOAD));
  });
});

describe("torn tails of the last segment", () => {
  for (const cut of [1, 20, 24, 25, 60, 123]) {
    it(`TornTailCut${cut}: a cut of ${cut} bytes drops the last entry and is reported`, async () => {
      const dir = await buildLog(22);
      const last = join(dir, "log_inprogress_00000000000000000019");
      const size = (await stat(last)).size;
      await truncate(last, size - cut);
      const before = localLogCounters.tornTailTruncations;
      const warnings: string[] = [];
      const log = await reopen(dir, warnings);
      assertEntries(log, dataEntries(1, 21, 1, PAYLOAD));
      assert.equal(localLogCounters.tornTailTruncations, before + 1);
      assert.equal(log.tornTail?.file, last);
      assert.equal(log.tornTail?.offset, 3 * (24 + PAYLOAD));
      assert.equal(warnings.length, 1);
      assert.match(
        warnings[0]!,
        /truncated torn tail of log segment .*log_inprogress_00000000000000000019 at offset 372/,
      );
      assert.equal((await stat(last)).size, 3 * (24 + PAYLOAD), "the file is cut back");
      await log.appendEntries(dataEntries(22, 23, 2, PAYLOAD));
      await log.close();
      const clean = await reopen(dir);
      assert.equal(clean.tornTail, undefined);
      assertEntries(clean, [...dataEntries(1, 21, 1, PAYLOAD), ...dataEntries(22, 23, 2, PAYLOAD)]);
      await clean.close();
    });
  }

  it("GarbledTail: garbage over the last entry and zeros after it are cut off", async () => {
    const dir = await buildLog(22);
    const last = join(dir, "log_inprogress_00000000000000000019");
    const fh = await open(last, "r+");
    const size = (await fh.stat()).size;
    await fh.write(Buffer.from("garbage!"), 0, 8, size - 8);
    await fh.write(Buffer.alloc(4096), 0, 4096, size); // a page the file system extended with zeros
    await fh.close();
    const log = await reopen(dir);
    assertEntries(log, dataEntries(1, 21, 1, PAYLOAD));
    assert.match(log.tornTail?.reason ?? "", /data checksum mismatch/);
    await log.close();
  });

  it("TornFirstEntry: a last segment with no whole entry becomes empty", async () => {
    const dir = await buildLog(19);
    await truncate(join(dir, "log_inprogress_00000000000000000019"), 10);
    const log = await reopen(dir);
    assertEntries(log, dataEntries(1, 18, 1, PAYLOAD));
    await log.appendEntries(dataEntries(19, 19, 3, PAYLOAD));
    await log.close();
    const again = await reopen(dir);
    assertEntries(again, [...dataEntries(1, 18, 1, PAYLOAD), ...dataEntries(19, 19, 3, PAYLOAD)]);
    await again.close();
  });

  it("TornClosedLastSegment: a closed last segment that lost entries is renamed to match", async () => {
    const dir = await buildLog(19);
    await rm(join(dir, "log_inprogress_00000000000000000019"));
    const closed = join(dir, "log_00000000000000000010_00000000000000000018");
    await truncate(closed, (await stat(closed)).size - 3);
    const log = await reopen(dir);
    assertEntries(log, dataEntries(1, 17, 1, PAYLOAD));
    assert.ok((await segments(dir)).includes("log_00000000000000000010_00000000000000000017"));
    await log.close();
  });
});

describe("corruption before the last segment", () => {
  async function expectRefusal(dir: string, file: RegExp, offset: number): Promise<void> {
    const err = await rejectsWith(reopen(dir), "EIO");
    assert.match(err.message, file);
    assert.match(err.message, new RegExp(`at offset ${offset}\\b`));
  }

  it("FlippedDataByte: refuses naming the file and the entry's offset", async () => {
    const dir = await buildLog(22);
    const file = join(dir, "log_00000000000000000010_00000000000000000018");
    const fh = await open(file, "r+");
    await fh.write(Buffer.from([0xff]), 0, 1, 3 * 124 + 50);
    await fh.close();
    await expectRefusal(dir, /log_00000000000000000010_00000000000000000018/, 3 * 124);
  });

  it("FlippedHeaderByte: refuses naming the file and the entry's offset", async () => {
    const dir = await buildLog(22);
    const file = join(dir, "log_00000000000000000001_00000000000000000009");
    const fh = await open(file, "r+");
    await fh.write(Buffer.from([0x7f]), 0, 1, 124 + 2);
    await fh.close();
    await expectRefusal(dir, /log_00000000000000000001_00000000000000000009/, 124);
  });

  it("TruncatedClosedSegment: a closed segment followed by others must be whole", async () => {
    const dir = await buildLog(22);
    const file = join(dir, "log_00000000000000000001_00000000000000000009");
    await truncate(file, 8 * 124);
    const err = await rejectsWith(reopen(dir), "EIO");
    assert.match(
      err.message,
      /log_00000000000000000001_00000000000000000009 at offset 992: holds 8 entries, its name says 9/,
    );
  });

  it("MissingSegment: a gap between segments refuses naming both files", async () => {
    const dir = await buildLog(22);
    await rm(join(dir, "log_00000000000000000010_00000000000000000018"));
    const err = await rejectsWith(reopen(dir), "EIO");
    assert.match(
      err.message,
      /log_00000000000000000001_00000000000000000009 ends at index 9 but .*log_inprogress_00000000000000000019 starts at 19/,
    );
  });

  it("CorruptLogMeta: a garbled log_meta refuses naming it", async () => {
    const dir = await buildLog(3);
    await writeFile(join(dir, "log_meta"), Buffer.from([0, 0, 0, 5, 8]));
    assert.match((await rejectsWith(reopen(dir), "EIO")).message, /log_meta/);
  });

  it("UnknownChecksumType: an entry naming no braft checksum refuses to load mid-log", async () => {
    const dir = await buildLog(22);
    const file = join(dir, "log_00000000000000000001_00000000000000000009");
    const buf = await readFile(file);
    buf.writeUInt32BE((EntryType.DATA << 24) | (5 << 16), 8);
    buf.writeUInt32BE(crc32cOf(buf.subarray(0, 20)), 20);
    await writeFile(file, buf);
    const err = await rejectsWith(reopen(dir), "EIO");
    assert.match(err.message, /at offset 0: unknown checksum type 5/);
  });
});

describe("crash leftovers and braft compatibility", () => {
  it("InterruptedRollover: an open segment followed by another is closed; empty ones go", async () => {
    const dir = await buildLog(22);
    await rename(
      join(dir, "log_00000000000000000010_00000000000000000018"),
      join(dir, "log_inprogress_00000000000000000010"),
    );
    await writeFile(join(dir, "log_00000000000000000001_00000000000000000009.tmp"), "leftover");
    const log = await reopen(dir);
    assertEntries(log, dataEntries(1, 22, 1, PAYLOAD));
    assert.deepEqual(await segments(dir), [
      "log_00000000000000000001_00000000000000000009",
      "log_00000000000000000010_00000000000000000018",
      "log_inprogress_00000000000000000019",
    ]);
    await log.close();
  });

  it("InterruptedTruncatePrefix: segments before log_meta's first index are deleted", async () => {
    const dir = await buildLog(22);
    await writeFile(join(dir, "log_meta"), Buffer.from([0, 0, 0, 2, 0x08, 12]));
    const log = await reopen(dir);
    assertEntries(log, dataEntries(12, 22, 1, PAYLOAD));
    assert.deepEqual((await segments(dir))[0], "log_00000000000000000010_00000000000000000018");
    await log.close();
  });

  it("MurmurSegments: entries checksummed with braft's MurmurHash3 load", async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const data = Buffer.from("written by braft without crc32c");
    const header = Buffer.alloc(24);
    header.writeUInt32BE(0, 0);
    header.writeUInt32BE(4, 4);
    header.writeUInt32BE((EntryType.DATA << 24) | (0 << 16), 8);
    header.writeUInt32BE(data.length, 12);
    header.writeUInt32BE(murmurHash3x86x32(data, 0), 16);
    header.writeUInt32BE(murmurHash3x86x32(header.subarray(0, 20), 0), 20);
    await writeFile(join(dir, "log_inprogress_00000000000000000001"), Buffer.concat([header, data]));
    const log = await reopen(dir);
    assert.equal(log.lastLogIndex(), 1);
    assert.equal(log.getTerm(1), 4);
    assert.equal(Buffer.from(log.getEntry(1)!.data).toString(), data.toString());
    await log.appendEntries(dataEntries(2, 3, 4));
    const first = log.getEntry(1)!;
    await log.close();
    const again = await reopen(dir);
    assertEntries(again, [first, ...dataEntries(2, 3, 4)]);
    await again.close();
  });

  it("DiskReadCorruption: an entry damaged after startup fails its read with EIO", async () => {
    const dir = await buildLog(22);
    const log = await reopen(dir);
    const fh = await open(join(dir, "log_00000000000000000001_00000000000000000009"), "r+");
    await fh.write(Buffer.from([0xee]), 0, 1, 124 * 2 + 30);
    await fh.close();
    assert.throws(
      () => log.getEntry(3),
      /Corrupted entry 3 in .*log_00000000000000000001_00000000000000000009 at offset 248/,
    );
    assert.equal(log.getEntry(4)?.index, 4);
    await log.close();
  });
});
