/**
 * braft's FileSegData (util.h): the get_file attachment is a list of segments, each an 8-byte
 * big-endian file offset, a 4-byte big-endian length and that many bytes. braft's server sends one
 * segment per read, or several when `raft_file_check_hole` skips all-zero blocks; the gaps are
 * holes. Raw data in the attachment would not be understood by a braft follower.
 */
import { RaftError } from "../core/errors.js";

/** Bytes of a segment header. */
export const SEGMENT_HEADER_BYTES = 12;

/** One segment: `data` belongs at `offset` of the file. */
export interface FileSegment {
  readonly offset: number;
  readonly data: Uint8Array;
}

/** The attachment parts for `data` read at `offset`: a header then the data itself (no copy). */
export function encodeSegment(offset: number, data: Uint8Array): Uint8Array[] {
  const header = Buffer.allocUnsafe(SEGMENT_HEADER_BYTES);
  header.writeBigUInt64BE(BigInt(offset), 0);
  header.writeUInt32BE(data.length, 8);
  return [header, data];
}

/** The segments of an attachment, as views into it; EIO when it is not well-formed. */
export function decodeSegments(attachment: Uint8Array): FileSegment[] {
  const view = new DataView(attachment.buffer, attachment.byteOffset, attachment.byteLength);
  const segments: FileSegment[] = [];
  let at = 0;
  while (at < attachment.length) {
    if (attachment.length - at < SEGMENT_HEADER_BYTES) {
      throw new RaftError("EIO", `get_file attachment: truncated segment header at byte ${at}`);
    }
    const offset = view.getBigUint64(at, false);
    const length = view.getUint32(at + 8, false);
    at += SEGMENT_HEADER_BYTES;
    if (length > attachment.length - at || offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RaftError("EIO", `get_file attachment: bad segment (offset ${offset}, ${length} bytes)`);
    }
    segments.push({ offset: Number(offset), data: attachment.subarray(at, at + length) });
    at += length;
  }
  return segments;
}
