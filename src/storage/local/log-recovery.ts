/**
 * Opening a segmented log directory: every segment is read and checksummed. A torn or corrupt
 * tail of the LAST segment is what a crash during an unacknowledged write leaves, so it is cut
 * off and reported; damage anywhere else would silently drop committed entries, so it refuses.
 */
import { open, readFile, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { LogEntry } from "../../core/types.js";
import { decodeFile, fsyncDir, ioError, loadProtoBufFile, syncFile } from "./fs-util.js";
import type { ResolvedLocalOptions } from "./options.js";
import { decodeLogMeta } from "./pb-codec.js";
import { CLOSED_SEGMENT_RE, OPEN_SEGMENT_RE, Segment, closedSegmentName } from "./segment.js";
import { scanSegment, type SegmentScan } from "./segment-scan.js";

/** Name of the file holding LogPBMeta (the first log index). */
export const LOG_META_FILE = "log_meta";

/** What recovery cut off the end of the last segment. */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly droppedBytes: number;
  readonly reason: string;
}

/** A recovered log: contiguous segments, the last possibly open. */
export interface RecoveredLog {
  /** From log_meta; undefined when the directory had none. */
  readonly metaFirstIndex: number | undefined;
  readonly firstIndex: number;
  readonly segments: Segment[];
  /** Configuration entries at or after firstIndex, oldest first. */
  readonly confs: LogEntry[];
  readonly tornTail: TornTail | undefined;
}

interface SegmentFile {
  readonly name: string;
  readonly first: number;
  /** From the name of a closed segment. */
  readonly last: number | undefined;
}

/** Loads the log in `dir` (which must exist), repairing what a crash can leave behind. */
export async function recoverLog(dir: string, opts: ResolvedLocalOptions): Promise<RecoveredLog> {
  const names = await listDir(dir);
  await removeTempFiles(dir, names);
  const metaPath = join(dir, LOG_META_FILE);
  const metaBytes = await loadProtoBufFile(metaPath);
  const metaFirstIndex = metaBytes === undefined ? undefined : decodeFile(metaPath, metaBytes, decodeLogMeta);
  const segments: Segment[] = [];
  try {
    return await loadSegments(dir, segmentFiles(names), metaFirstIndex, segments, opts);
  } catch (err) {
    for (const seg of segments) await seg.release();
    throw err;
  }
}

async function loadSegments(
  dir: string,
  files: readonly SegmentFile[],
  metaFirstIndex: number | undefined,
  segments: Segment[],
  opts: ResolvedLocalOptions,
): Promise<RecoveredLog> {
  const confs: LogEntry[] = [];
  let tornTail: TornTail | undefined;
  for (const [i, file] of files.entries()) {
    if (file.last !== undefined && metaFirstIndex !== undefined && file.last < metaFirstIndex) {
      await rm(join(dir, file.name), { force: true }); // left over from an interrupted truncatePrefix
      continue;
    }
    const isLast = i === files.length - 1;
    const loaded = await loadSegment(dir, file, isLast, opts);
    if (loaded.tornTail !== undefined) tornTail = loaded.tornTail;
    confs.push(...loaded.confs);
    if (loaded.segment !== undefined) segments.push(loaded.segment);
  }
  checkContiguous(segments);
  const firstIndex = chooseFirstIndex(dir, metaFirstIndex, segments);
  // Segments wholly before the first index: an interrupted truncatePrefix or reset left them.
  while (segments[0] !== undefined && segments[0].lastIndex < firstIndex) await segments.shift()?.remove();
  if (opts.sync) await fsyncDir(dir);
  return {
    metaFirstIndex,
    firstIndex,
    segments,
    confs: confs.filter((c) => c.index >= firstIndex),
    tornTail,
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    throw ioError("list", dir, err);
  }
}

/** braft deletes through a `.tmp` rename and writes meta through `.tmp`: leftovers are garbage. */
async function removeTempFiles(dir: string, names: readonly string[]): Promise<void> {
  for (const name of names) if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
}

function segmentFiles(names: readonly string[]): SegmentFile[] {
  const files: SegmentFile[] = [];
  for (const name of names) {
    const open = OPEN_SEGMENT_RE.exec(name);
    const closed = CLOSED_SEGMENT_RE.exec(name);
    if (open?.[1] !== undefined) files.push({ name, first: Number(open[1]), last: undefined });
    else if (closed?.[1] !== undefined && closed[2] !== undefined) {
      files.push({ name, first: Number(closed[1]), last: Number(closed[2]) });
    }
  }
  return files.sort((a, b) => a.first - b.first);
}

interface LoadedSegment {
  readonly segment: Segment | undefined;
  readonly confs: LogEntry[];
  readonly tornTail?: TornTail;
}

async function loadSegment(dir: string, file: SegmentFile, isLast: boolean, opts: ResolvedLocalOptions) {
  const path = join(dir, file.name);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw ioError("read segment", path, err);
  }
  const scan = scanSegment(buf, file.first);
  const count = scan.offsets.length;
  const expected = file.last === undefined ? undefined : file.last - file.first + 1;
  if (expected !== undefined && count > expected) {
    const extra = scan.offsets[expected] ?? scan.validBytes;
    throw new RaftError(
      "EIO",
      `Corrupted log segment ${path} at offset ${extra}: holds ${count} entries, its name says ${expected}`,
    );
  }
  if (!isLast) return loadMiddleSegment(dir, file, scan, expected, path);
  return loadLastSegment(dir, file, scan, buf.length, opts);
}

/** A segment followed by others must be whole: any damage is corruption of acknowledged data. */
async function loadMiddleSegment(
  dir: string,
  file: SegmentFile,
  scan: SegmentScan,
  expected: number | undefined,
  path: string,
): Promise<LoadedSegment> {
  if (scan.fault !== undefined) {
    throw new RaftError(
      "EIO",
      `Corrupted log segment ${path} at offset ${scan.fault.offset}: ${scan.fault.reason}`,
    );
  }
  const count = scan.offsets.length;
  if (expected !== undefined && count !== expected) {
    throw new RaftError(
      "EIO",
      `Corrupted log segment ${path} at offset ${scan.validBytes}: holds ${count} entries, its name says ${expected}`,
    );
  }
  if (count === 0) {
    // An empty open segment before another one: a crash hit between creating it and a rollover.
    await rm(path, { force: true });
    return { segment: undefined, confs: [] };
  }
  const segment = Segment.loaded(dir, file.first, true, scan.offsets, scan.terms, scan.validBytes);
  if (expected === undefined) await rename(path, join(dir, closedSegmentName(file.first, segment.lastIndex)));
  return { segment, confs: scan.confs };
}

/** The last segment may end in the unacknowledged write a crash interrupted: cut it off. */
async function loadLastSegment(
  dir: string,
  file: SegmentFile,
  scan: SegmentScan,
  fileBytes: number,
  opts: ResolvedLocalOptions,
): Promise<LoadedSegment> {
  const path = join(dir, file.name);
  let tornTail: TornTail | undefined;
  if (scan.fault !== undefined) {
    if (!opts.recoverFromCorrupt && !scan.fault.reason.startsWith("incomplete")) {
      // braft's default: only a write a crash interrupted is cut; a whole entry that fails its
      // checksum may be acknowledged data gone bad, and the operator decides.
      throw new RaftError(
        "EIO",
        `Corrupted log segment ${path} at offset ${scan.fault.offset}: ${scan.fault.reason} ` +
          "(raft_recover_log_from_corrupt is off)",
      );
    }
    tornTail = {
      file: path,
      offset: scan.fault.offset,
      droppedBytes: fileBytes - scan.validBytes,
      reason: scan.fault.reason,
    };
    await truncateTail(path, scan.validBytes, opts);
    opts.logger.warn(
      `tsraft: truncated torn tail of log segment ${path} at offset ${tornTail.offset} ` +
        `(${tornTail.droppedBytes} bytes dropped: ${tornTail.reason})`,
      { file: path, offset: tornTail.offset, droppedBytes: tornTail.droppedBytes, reason: tornTail.reason },
    );
  }
  const closed = file.last !== undefined;
  const segment = Segment.loaded(dir, file.first, closed, scan.offsets, scan.terms, scan.validBytes);
  if (closed && segment.lastIndex < file.first) {
    await segment.remove();
    return { segment: undefined, confs: scan.confs, ...(tornTail ? { tornTail } : {}) };
  }
  if (closed && segment.name !== file.name) await rename(path, segment.path);
  if (!closed) await segment.openForAppend();
  return { segment, confs: scan.confs, ...(tornTail ? { tornTail } : {}) };
}

async function truncateTail(path: string, validBytes: number, opts: ResolvedLocalOptions): Promise<void> {
  try {
    const fh = await open(path, "r+");
    try {
      await fh.truncate(validBytes);
      if (opts.sync) await syncFile(fh, opts.useFsync);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError("truncate torn tail of", path, err);
  }
}

function checkContiguous(segments: readonly Segment[]): void {
  for (let i = 1; i < segments.length; i++) {
    const prev = segments[i - 1]!;
    const next = segments[i]!;
    if (next.firstIndex !== prev.lastIndex + 1) {
      throw new RaftError(
        "EIO",
        `Corrupted log: ${prev.path} ends at index ${prev.lastIndex} but ${next.path} starts at ${next.firstIndex}`,
      );
    }
  }
}

function chooseFirstIndex(dir: string, metaFirst: number | undefined, segments: readonly Segment[]): number {
  const head = segments[0];
  if (metaFirst === undefined) return head?.firstIndex ?? 1;
  if (head !== undefined && head.firstIndex > metaFirst) {
    throw new RaftError(
      "EIO",
      `Corrupted log in ${dir}: log_meta says first index ${metaFirst} but ${head.path} starts at ${head.firstIndex}`,
    );
  }
  return metaFirst;
}
