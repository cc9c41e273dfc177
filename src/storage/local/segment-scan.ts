/** Reading a whole segment file back: the entry index it holds and where it stops being valid. */
import { EntryType, type LogEntry } from "../../core/types.js";
import {
  ENTRY_HEADER_SIZE,
  checkPayload,
  decodeEntry,
  parseHeader,
  type EntryHeader,
} from "./entry-codec.js";

/** What a scan of one segment found. */
export interface SegmentScan {
  /** File offset of each valid entry, in index order. */
  readonly offsets: number[];
  /** Term of each valid entry. */
  readonly terms: number[];
  /** Bytes covered by valid entries; everything after is torn or corrupt. */
  readonly validBytes: number;
  /** Configuration entries among the valid ones, oldest first. */
  readonly confs: LogEntry[];
  /** The first invalid entry, when the file does not end exactly after a valid entry. */
  readonly fault?: { readonly offset: number; readonly reason: string };
}

/**
 * Walks the entries of `buf`, a segment whose first entry has index `firstIndex`, checking both
 * checksums of each, and stops at the first entry that is incomplete or fails a check.
 */
export function scanSegment(buf: Uint8Array, firstIndex: number): SegmentScan {
  const offsets: number[] = [];
  const terms: number[] = [];
  const confs: LogEntry[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const header = parseHeader(buf, offset);
    if (typeof header === "string")
      return { offsets, terms, confs, validBytes: offset, fault: { offset, reason: header } };
    const start = offset + ENTRY_HEADER_SIZE;
    const payload = buf.subarray(start, start + header.dataLen);
    const bad = checkPayload(header, payload);
    if (bad !== undefined)
      return { offsets, terms, confs, validBytes: offset, fault: { offset, reason: bad } };
    const index = firstIndex + offsets.length;
    if (header.type === EntryType.CONFIGURATION) {
      const conf = decodeConf(index, header, payload);
      if (typeof conf === "string")
        return { offsets, terms, confs, validBytes: offset, fault: { offset, reason: conf } };
      confs.push(conf);
    }
    offsets.push(offset);
    terms.push(header.term);
    offset = start + header.dataLen;
  }
  return { offsets, terms, confs, validBytes: offset };
}

/** A configuration entry, or the reason its ConfigurationPBMeta does not parse. */
function decodeConf(index: number, header: EntryHeader, payload: Uint8Array): LogEntry | string {
  try {
    return decodeEntry(index, header, payload);
  } catch (err) {
    return `malformed configuration: ${(err as Error).message}`;
  }
}
