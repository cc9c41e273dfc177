/**
 * braft's on-disk entry: a 24-byte big-endian header followed by the payload, no magic number.
 *
 *   0..7   term (int64)
 *   8..11  meta field: entry type << 24 | checksum type << 16 (low 16 bits zero)
 *   12..15 payload length (u32)
 *   16..19 payload checksum
 *   20..23 header checksum over bytes 0..19
 *
 * The index is not stored: it follows from the segment's first index and the entry's position.
 */
import { RaftError } from "../../core/errors.js";
import { EMPTY_DATA, EntryType, type LogEntry } from "../../core/types.js";
import { ChecksumType, checksumOf, crc32cView } from "./checksum.js";
import { decodeConfiguration, encodeConfiguration } from "./pb-codec.js";

/** Size of the fixed entry header. */
export const ENTRY_HEADER_SIZE = 24;

/** braft stores the length in a u32; one entry can never exceed it. */
export const PAYLOAD_BYTES_MAX = 0xffff_ffff;

/** A header that passed its own checksum. */
export interface EntryHeader {
  readonly term: number;
  readonly type: EntryType;
  readonly checksumType: number;
  readonly dataLen: number;
  readonly dataChecksum: number;
}

/** The bytes stored after the header: user data, or the ConfigurationPBMeta of a conf entry. */
export function entryPayload(entry: LogEntry): Uint8Array {
  if (entry.type !== EntryType.CONFIGURATION) return entry.data;
  if (entry.conf === undefined) {
    throw new RaftError("EINVAL", `configuration entry ${entry.index} carries no configuration`);
  }
  return encodeConfiguration(entry.conf);
}

/** Writes header + payload of `entry` into `buf` at `offset`; returns the offset after it. */
export function writeEntry(buf: Uint8Array, offset: number, entry: LogEntry, payload: Uint8Array): number {
  if (payload.length > PAYLOAD_BYTES_MAX) {
    throw new RaftError("EINVAL", `entry ${entry.index} is larger than a segment entry can hold`);
  }
  return encodeEntry(buf, new DataView(buf.buffer, buf.byteOffset, buf.length), offset, entry, payload);
}

/**
 * {@link writeEntry} for the hot path: `view` spans all of `buf` and is reused across entries
 * (creating a DataView costs about as much as encoding a small entry), and the payload length
 * has been checked. The payload is copied first so both CRCs read it through `view`.
 */
export function encodeEntry(
  buf: Uint8Array,
  view: DataView,
  offset: number,
  entry: LogEntry,
  payload: Uint8Array,
): number {
  const dataStart = offset + ENTRY_HEADER_SIZE;
  const dataEnd = dataStart + payload.length;
  buf.set(payload, dataStart);
  encodeHeader(buf, view, offset, entry, payload.length, crc32cView(view, buf, dataStart, dataEnd));
  return dataEnd;
}

/**
 * Writes only the 24-byte header of `entry` at `offset`, for a payload of `payloadLength` bytes
 * whose CRC32C is `payloadCrc` and which is written from its own buffer (a writev part), not
 * copied behind the header. `view` spans all of `buf`.
 */
export function encodeHeader(
  buf: Uint8Array,
  view: DataView,
  offset: number,
  entry: LogEntry,
  payloadLength: number,
  payloadCrc: number,
): void {
  view.setUint32(offset, Math.floor(entry.term / 0x1_0000_0000));
  view.setUint32(offset + 4, entry.term >>> 0);
  view.setUint32(offset + 8, ((entry.type << 24) | (ChecksumType.CRC32 << 16)) >>> 0);
  view.setUint32(offset + 12, payloadLength);
  view.setUint32(offset + 16, payloadCrc);
  view.setUint32(offset + 20, crc32cView(view, buf, offset, offset + 20));
}

/**
 * Parses and verifies the header at `offset`. Returns a reason string instead of a header when
 * the bytes are not a valid header, so the caller decides between torn tail and corruption.
 */
export function parseHeader(buf: Uint8Array, offset: number): EntryHeader | string {
  if (buf.length - offset < ENTRY_HEADER_SIZE) return "incomplete entry header";
  const view = new DataView(buf.buffer, buf.byteOffset + offset, ENTRY_HEADER_SIZE);
  const metaField = view.getUint32(8);
  const checksumType = (metaField >>> 16) & 0xff;
  const stored = view.getUint32(20);
  const actual = checksumOf(checksumType, buf.subarray(offset, offset + 20));
  if (actual === undefined) return `unknown checksum type ${checksumType}`;
  if (actual !== stored) return "header checksum mismatch";
  const type = metaField >>> 24;
  if (!isEntryType(type)) return `unknown entry type ${type}`;
  const term = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4);
  if (!Number.isSafeInteger(term)) return `term out of range`;
  return { term, type, checksumType, dataLen: view.getUint32(12), dataChecksum: view.getUint32(16) };
}

/** Checks the payload against the header; a reason string when it does not match. */
export function checkPayload(header: EntryHeader, payload: Uint8Array): string | undefined {
  if (payload.length < header.dataLen) return "incomplete entry data";
  if (checksumOf(header.checksumType, payload) !== header.dataChecksum) return "data checksum mismatch";
  return undefined;
}

/** Builds the LogEntry for a verified header and payload. */
export function decodeEntry(index: number, header: EntryHeader, payload: Uint8Array): LogEntry {
  if (header.type !== EntryType.CONFIGURATION) {
    const data = payload.length === 0 ? EMPTY_DATA : ownBytes(payload);
    return { index, term: header.term, type: header.type, data };
  }
  return {
    index,
    term: header.term,
    type: header.type,
    data: EMPTY_DATA,
    conf: decodeConfiguration(payload),
  };
}

/**
 * Backing memory this many times the payload's size is copied away from: a view would pin it all
 * for as long as the entry lives (the recent-entries cache, the apply queue).
 */
const PINNED_BYTES_RATIO_MAX = 2;

/**
 * `payload` itself when its backing memory is about its own size (a one-entry read buffer: no
 * copy), else a copy (a slice of a segment read at recovery, or of Node's shared 8 KiB pool,
 * which one small entry would otherwise keep alive).
 */
export function ownBytes(payload: Uint8Array): Uint8Array {
  if (payload.buffer.byteLength <= PINNED_BYTES_RATIO_MAX * payload.length) return payload;
  return new Uint8Array(payload);
}

function isEntryType(type: number): type is EntryType {
  return (
    type === EntryType.UNKNOWN ||
    type === EntryType.NO_OP ||
    type === EntryType.DATA ||
    type === EntryType.CONFIGURATION
  );
}
