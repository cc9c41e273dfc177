/**
 * The state machine of the snapshot-install benchmark: a counter whose snapshot carries one large
 * file of pseudo-random bytes plus a small checksum file. Both sides go through the large file in
 * 1 MiB chunks, so what the benchmark measures is the install path's memory, not this one's.
 */
import { createHash, randomFillSync } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../src/index.js";

/** The large file's name in the snapshot. */
export const DATA_FILE = "data";
/** The checksum file's name: JSON {@link Checksum}. */
export const CHECKSUM_FILE = "checksum";
/** Bytes generated or hashed per step: small next to the 150 MiB the benchmark allows. */
const CHUNK_BYTES = 1024 * 1024;

/** What the checksum file records. */
interface Checksum {
  readonly sha256: string;
  readonly bytes: number;
  /** The counter at the snapshot, so a load restores the replicated state too. */
  readonly value: number;
}

/** What the benchmark's node process hears from its state machine. */
export interface BigStateListener {
  /** A snapshot was loaded and its data file matched its checksum. */
  loaded(loaded: { value: number; bytes: number; verifyMs: number }): void;
  leaderStart(term: number): void;
}

export class BigStateMachine implements StateMachine {
  value = 0;

  constructor(
    private readonly dataBytes: number,
    private readonly listener: BigStateListener,
  ) {}

  onLeaderStart(term: number): void {
    this.listener.leaderStart(term);
  }

  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.value += entry.data[0] ?? 0;
      entry.done?.setResult?.(this.value);
    }
  }

  async onSnapshotSave(writer: SnapshotWriter, done: Closure): Promise<void> {
    // Read before the first await: applies go on while the file is written.
    const value = this.value;
    try {
      const sha256 = await writeRandomFile(join(writer.path, DATA_FILE), this.dataBytes);
      const checksum: Checksum = { sha256, bytes: this.dataBytes, value };
      await writeFile(join(writer.path, CHECKSUM_FILE), JSON.stringify(checksum));
      writer.addFile(DATA_FILE);
      writer.addFile(CHECKSUM_FILE);
      done.run(Status.OK());
    } catch (error) {
      done.run(Status.fromError(error));
    }
  }

  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    const startMs = performance.now();
    const expected = JSON.parse(await readFile(join(reader.path, CHECKSUM_FILE), "utf8")) as Checksum;
    const actual = await hashFile(join(reader.path, DATA_FILE));
    if (actual.sha256 !== expected.sha256 || actual.bytes !== expected.bytes) {
      throw new Error(
        `snapshot data does not match its checksum: ${actual.bytes} bytes sha256 ${actual.sha256}, ` +
          `expected ${expected.bytes} bytes sha256 ${expected.sha256}`,
      );
    }
    this.value = expected.value;
    this.listener.loaded({ value: this.value, bytes: actual.bytes, verifyMs: performance.now() - startMs });
  }
}

/**
 * Writes `bytes` pseudo-random bytes to `path` through one reused buffer; resolves with their
 * sha256. (A stream pipeline would queue up to 16 chunks, inflating the leader's peak RSS.)
 */
async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash("sha256");
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  const fh = await open(path, "w");
  try {
    for (let at = 0; at < bytes; at += CHUNK_BYTES) {
      const chunk = randomFillSync(buf.subarray(0, Math.min(CHUNK_BYTES, bytes - at)));
      hash.update(chunk);
      // A FileHandle write may be short; write what is left.
      for (let done = 0; done < chunk.length;) done += (await fh.write(chunk, done)).bytesWritten;
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

/** sha256 and size of a file, streamed. */
async function hashFile(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest("hex"), bytes };
}
