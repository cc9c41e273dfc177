/**
 * One segment file of the local log: `log_inprogress_<first>` while it takes appends,
 * `log_<first>_<last>` once closed. Keeps the offset and term of each entry in memory so a read
 * is one pread and a term lookup needs no I/O.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { LogEntry } from "../../core/types.js";
import { ENTRY_HEADER_SIZE, checkPayload, decodeEntry, parseHeader } from "./entry-codec.js";
import { ioError, syncFile } from "./fs-util.js";
import type { EncodedChunk } from "./chunk-encoder.js";
import { writeAppend, type AppendWrite } from "./segment-writer.js";

/** `log_inprogress_%020ld`. */
export const OPEN_SEGMENT_RE = /^log_inprogress_(\d{20})$/;
/** `log_%020ld_%020ld`. */
export const CLOSED_SEGMENT_RE = /^log_(\d{20})_(\d{20})$/;

/** braft's BRAFT_SEGMENT_OPEN_PATTERN. */
export function openSegmentName(first: number): string {
  return `log_inprogress_${pad20(first)}`;
}

/** braft's BRAFT_SEGMENT_CLOSED_PATTERN. */
export function closedSegmentName(first: number, last: number): string {
  return `log_${pad20(first)}_${pad20(last)}`;
}

function pad20(n: number): string {
  return String(n).padStart(20, "0");
}

/** A segment: its file and the in-memory index of the entries in it. */
export class Segment {
  /** Index of the last entry; firstIndex - 1 when empty. */
  private last: number;
  /** Writable handle of the open segment; kept for reads after the segment is closed. */
  private fh: FileHandle | undefined;
  /** Read-only descriptor of a closed segment loaded from disk, opened on first read. */
  private readFd: number | undefined;

  private constructor(
    readonly dir: string,
    readonly firstIndex: number,
    private isClosed: boolean,
    private readonly offsets: number[],
    private readonly terms: number[],
    private size: number,
  ) {
    this.last = firstIndex + offsets.length - 1;
  }

  /** Creates an empty open segment whose first entry will be `first`. */
  static async create(dir: string, first: number): Promise<Segment> {
    const seg = new Segment(dir, first, false, [], [], 0);
    try {
      seg.fh = await open(seg.path, "w+");
    } catch (err) {
      throw ioError("create segment", seg.path, err);
    }
    return seg;
  }

  /** A segment loaded from disk with the index a scan built. */
  static loaded(
    dir: string,
    first: number,
    closed: boolean,
    offsets: number[],
    terms: number[],
    size: number,
  ) {
    return new Segment(dir, first, closed, offsets, terms, size);
  }

  get lastIndex(): number {
    return this.last;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Bytes of valid entries in the file. */
  get bytes(): number {
    return this.size;
  }

  get name(): string {
    return this.isClosed ? closedSegmentName(this.firstIndex, this.last) : openSegmentName(this.firstIndex);
  }

  get path(): string {
    return join(this.dir, this.name);
  }

  /** Reopens a loaded open segment for appends. */
  async openForAppend(): Promise<void> {
    try {
      this.fh = await open(this.path, "r+");
    } catch (err) {
      throw ioError("open segment", this.path, err);
    }
  }

  termAt(index: number): number {
    return this.terms[index - this.firstIndex] ?? 0;
  }

  /** Reads and verifies the entry at `index` (which must be in this segment). */
  readEntry(index: number): LogEntry {
    const rel = index - this.firstIndex;
    const start = this.offsets[rel];
    if (start === undefined) throw new RaftError("ERANGE", `index ${index} is not in ${this.path}`);
    const end = this.offsets[rel + 1] ?? this.size;
    const buf = Buffer.allocUnsafe(end - start);
    try {
      const n = readSync(this.readDescriptor(), buf, 0, buf.length, start);
      if (n !== buf.length) throw new Error(`short read: ${n} of ${buf.length} bytes`);
    } catch (err) {
      throw ioError(`read entry ${index} at offset ${start} of`, this.path, err);
    }
    const header = parseHeader(buf, 0);
    const payload = buf.subarray(ENTRY_HEADER_SIZE);
    const bad = typeof header === "string" ? header : checkPayload(header, payload);
    if (bad !== undefined || typeof header === "string") {
      throw new RaftError("EIO", `Corrupted entry ${index} in ${this.path} at offset ${start}: ${bad}`);
    }
    return decodeEntry(index, header, payload);
  }

  /**
   * Writes `chunk` (encoded entries: the parts of one writev, their terms and chunk-relative
   * offsets) at the end of the file, then syncs it when `sync`. The in-memory index grows only
   * after success, so a failed write leaves the segment as it was (the caller truncates the file
   * back).
   */
  async append(chunk: EncodedChunk, how: Omit<AppendWrite, "parts" | "bytes" | "position">) {
    const { parts, bytes, terms, offsets } = chunk;
    await writeAppend(this.writable(), { ...how, parts, bytes, position: this.size });
    for (let i = 0; i < terms.length; i++) {
      this.offsets.push(this.size + offsets[i]!);
      this.terms.push(terms[i]!);
    }
    this.size += bytes;
    this.last += terms.length;
  }

  /** Cuts the file back to its valid bytes after a failed append (best effort). */
  async discardUnindexedBytes(): Promise<void> {
    await this.fh?.truncate(this.size);
  }

  /** Renames the open segment to its closed name (syncing it first when asked). */
  async close(syncFirst: boolean, useFsync: boolean): Promise<void> {
    const from = this.path;
    if (syncFirst) await syncFile(this.writable(), useFsync);
    this.isClosed = true;
    await rename(from, this.path);
  }

  /**
   * Drops the entries after `lastKept` (>= firstIndex) from the file and the index, syncing the
   * truncation; a closed segment is renamed to its new last index.
   */
  async truncateAfter(lastKept: number, sync: boolean, useFsync: boolean): Promise<void> {
    const keep = lastKept - this.firstIndex + 1;
    const newSize = this.offsets[keep] ?? this.size;
    const fh = this.fh ?? (await open(this.path, "r+"));
    try {
      await fh.truncate(newSize);
      if (sync) await syncFile(fh, useFsync);
    } finally {
      if (fh !== this.fh) await fh.close();
    }
    const from = this.path;
    this.offsets.length = keep;
    this.terms.length = keep;
    this.size = newSize;
    this.last = lastKept;
    if (this.isClosed) await rename(from, this.path);
  }

  /** Deletes the file. */
  async remove(): Promise<void> {
    await this.release();
    await rm(this.path, { force: true });
  }

  /** Closes the descriptors this segment holds. */
  async release(): Promise<void> {
    if (this.readFd !== undefined) closeSync(this.readFd);
    this.readFd = undefined;
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  private writable(): FileHandle {
    if (this.fh === undefined) throw new RaftError("EIO", `segment ${this.path} is not open for writing`);
    return this.fh;
  }

  private readDescriptor(): number {
    if (this.fh !== undefined) return this.fh.fd;
    this.readFd ??= openSync(this.path, "r");
    return this.readFd;
  }
}
