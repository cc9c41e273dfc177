/**
 * The kv example's snapshot file: one JSON record per line, written in chunks and fsynced, read
 * back chunk by chunk. Neither side holds the whole file in memory, so a map of gigabytes costs
 * its own size once (the copy taken in onSnapshotSave), not twice more for one giant string.
 *
 * Both sides go through a FileSystemAdaptor: the snapshot writer's or reader's `fileSystem` when
 * the node has one (`NodeOptions.snapshotFileSystemAdaptor`: an encrypting adaptor, or the
 * simulator's, whose calls take virtual time and die with a crashed node), else the real disk.
 */
import { defaultFileSystem, FileOpenFlags, type FileSystemAdaptor } from "../../src/index.js";

/** A key and its value, or a remembered request id and the previous value it answered. */
export type SnapshotRecord =
  { readonly k: string; readonly v: string } | { readonly r: string; readonly p: string | null };

/** Bytes gathered before one write or read: large enough to amortize the call, small enough to stream. */
const CHUNK_BYTES_MAX = 1 << 20;

// #region write-snapshot
/**
 * Writes `records` as JSON lines to `path` through `fileSystem` (the snapshot writer's), then
 * fsyncs it: the snapshot must survive a crash.
 */
export async function writeSnapshotFile(
  path: string,
  records: Iterable<SnapshotRecord>,
  fileSystem: FileSystemAdaptor = defaultFileSystem(),
): Promise<void> {
  const file = await fileSystem.open(path, FileOpenFlags.writeNew);
  try {
    let offset = 0;
    let chunk: string[] = [];
    let chunkBytes = 0;
    const flush = async (): Promise<void> => {
      const bytes = Buffer.from(chunk.join(""));
      offset += await file.write(bytes, offset);
      chunk = [];
      chunkBytes = 0;
    };
    for (const record of records) {
      const line = `${JSON.stringify(record)}\n`;
      chunk.push(line);
      chunkBytes += Buffer.byteLength(line);
      if (chunkBytes >= CHUNK_BYTES_MAX) await flush();
    }
    await flush();
    await file.sync();
  } finally {
    await file.close();
  }
}
// #endregion write-snapshot

/** Reads the records of a snapshot file written by writeSnapshotFile, one at a time. */
export async function* readSnapshotFile(
  path: string,
  fileSystem: FileSystemAdaptor = defaultFileSystem(),
): AsyncGenerator<SnapshotRecord> {
  const file = await fileSystem.open(path, FileOpenFlags.read);
  try {
    const decoder = new TextDecoder(); // `stream` keeps a character split between two chunks
    let partial = ""; // the start of a line whose end is in the next chunk
    for (let offset = 0; ;) {
      const bytes = await file.read(offset, CHUNK_BYTES_MAX);
      if (bytes.length === 0) break;
      offset += bytes.length;
      const lines = (partial + decoder.decode(bytes, { stream: true })).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (line !== "") yield JSON.parse(line) as SnapshotRecord;
    }
    partial += decoder.decode();
    if (partial !== "") yield JSON.parse(partial) as SnapshotRecord;
  } finally {
    await file.close();
  }
}
