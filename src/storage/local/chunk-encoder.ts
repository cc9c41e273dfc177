/**
 * Encodes a group of appends into the parts of one write (a writev), headers in a buffer borrowed
 * from the process's pool (write-buffer-pool.ts) for that write. Small payloads are copied behind
 * their headers (one part for many entries); a payload of PAYLOAD_REFERENCED_BYTES_MIN or more is
 * written from the entry's own buffer (the one the request or the AppendEntries frame brought),
 * so its bytes are copied once, by the kernel, instead of into a JS buffer first. Per entry: a
 * header and two CRCs; nothing is allocated per entry but the parts array.
 */
import { RaftError } from "../../core/errors.js";
import type { LogEntry } from "../../core/types.js";
import { crc32cOf } from "./checksum.js";
import { ENTRY_HEADER_SIZE, PAYLOAD_BYTES_MAX, encodeEntry, encodeHeader } from "./entry-codec.js";
import { giveWriteBuffer, takeWriteBuffer, type WriteBuffer } from "./write-buffer-pool.js";

/**
 * From this size on a payload is a writev part of its own instead of a copy: copying 4 KiB costs
 * about as much as the kernel's handling of one more iovec, and a batch of 1 MiB of such entries
 * stays at 512 parts, under IOV_MAX (1024, beyond which libuv splits the write anyway).
 */
export const PAYLOAD_REFERENCED_BYTES_MIN = 4096;

/** Entries `[start, start + terms.length)` of a group, encoded for one write. */
export interface EncodedChunk {
  /**
   * The bytes to write, in order: views of the encoder's buffer (valid until its `release`) and
   * the referenced payloads of large entries.
   */
  readonly parts: Uint8Array[];
  /** Total bytes of `parts`. */
  readonly bytes: number;
  readonly terms: number[];
  /** Offset of each entry inside the chunk. */
  readonly offsets: number[];
}

/**
 * One per log. The single writer (WriteQueue) awaits each chunk's write, then releases the
 * buffer before it encodes the next, so a buffer is never rewritten (by this log or, once back
 * in the pool, another) while the kernel may still read it.
 */
export class ChunkEncoder {
  /** The buffer lent for the chunk being written; undefined between writes. */
  private lent: WriteBuffer | undefined;

  /**
   * Encodes entries from `start` on, stopping once `room` bytes are used (at least one entry, so
   * a segment can exceed its limit by one entry, as in braft). `payloads[i]` is what is stored
   * for `entries[i]` (see entryPayload).
   */
  encode(
    entries: readonly LogEntry[],
    payloads: readonly Uint8Array[],
    start: number,
    room: number,
  ): EncodedChunk {
    let end = start;
    let bytes = 0;
    let copiedBytes = 0;
    while (end < entries.length && (end === start || bytes < room)) {
      const len = payloads[end]!.length;
      if (len > PAYLOAD_BYTES_MAX) {
        throw new RaftError("EINVAL", `entry ${entries[end]!.index} is larger than a segment entry can hold`);
      }
      bytes += ENTRY_HEADER_SIZE + len;
      copiedBytes += ENTRY_HEADER_SIZE + (len < PAYLOAD_REFERENCED_BYTES_MIN ? len : 0);
      end++;
    }
    const { buf, view } = this.bufferFor(copiedBytes);
    const terms = new Array<number>(end - start);
    const offsets = new Array<number>(end - start);
    const parts: Uint8Array[] = [];
    let offset = 0;
    let pos = 0;
    let partStart = 0;
    for (let i = start; i < end; i++) {
      const entry = entries[i]!;
      const payload = payloads[i]!;
      terms[i - start] = entry.term;
      offsets[i - start] = offset;
      offset += ENTRY_HEADER_SIZE + payload.length;
      if (payload.length < PAYLOAD_REFERENCED_BYTES_MIN) {
        pos = encodeEntry(buf, view, pos, entry, payload);
        continue;
      }
      encodeHeader(buf, view, pos, entry, payload.length, crc32cOf(payload));
      pos += ENTRY_HEADER_SIZE;
      parts.push(buf.subarray(partStart, pos), payload);
      partStart = pos;
    }
    if (pos > partStart) parts.push(buf.subarray(partStart, pos));
    return { parts, bytes, terms, offsets };
  }

  /** Gives the last chunk's buffer back to the pool: call once its write completed or failed. */
  release(): void {
    if (this.lent !== undefined) giveWriteBuffer(this.lent);
    this.lent = undefined;
  }

  private bufferFor(bytes: number): WriteBuffer {
    if (this.lent !== undefined && this.lent.buf.length >= bytes) return this.lent;
    this.release();
    this.lent = takeWriteBuffer(bytes);
    return this.lent;
  }
}
