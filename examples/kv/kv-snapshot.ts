/**
 * The kv example's snapshot file: one JSON record per line, written in chunks and fsynced, read
 * back line by line. Neither side holds the whole file in memory, so a map of gigabytes costs its
 * own size once (the copy taken in onSnapshotSave), not twice more for one giant string.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";

/** A key and its value, or a remembered request id and the previous value it answered. */
export type SnapshotRecord =
  { readonly k: string; readonly v: string } | { readonly r: string; readonly p: string | null };

/** Bytes gathered before one write: large enough to amortize the system call, small enough to stream. */
const CHUNK_BYTES_MAX = 1 << 20;

// #region write-snapshot
/** Writes `records` as JSON lines to `path`, then fsyncs it: the snapshot must survive a crash. */
export async function writeSnapshotFile(path: string, records: Iterable<SnapshotRecord>): Promise<void> {
  const file = await open(path, "w");
  try {
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const record of records) {
      const line = `${JSON.stringify(record)}\n`;
      chunk.push(line);
      chunkBytes += line.length;
      if (chunkBytes < CHUNK_BYTES_MAX) continue;
      await file.write(chunk.join(""));
      chunk = [];
      chunkBytes = 0;
    }
    await file.write(chunk.join(""));
    await file.sync();
  } finally {
    await file.close();
  }
}
// #endregion write-snapshot

/** Reads the records of a snapshot file written by writeSnapshotFile, one at a time. */
export async function* readSnapshotFile(path: string): AsyncGenerator<SnapshotRecord> {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line !== "") yield JSON.parse(line) as SnapshotRecord;
  }
}
