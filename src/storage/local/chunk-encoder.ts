/**
 * Encodes a group of appends into the bytes of one write, in a buffer borrowed from the process's
 * pool (write-buffer-pool.ts) for that write. This is the CPU side of an append: per entry it
 * costs a header, a copy of the payload and two CRCs, and nothing is allocated per entry.
 */
import { RaftError } from "../../core/errors.js";
import type { LogEntry } from "../../core/types.js";
import { ENTRY_HEADER_SIZE, PAYLOAD_BYTES_MAX, encodeEntry } from "./entry-codec.js";
import { giveWriteBuffer, takeWriteBuffer, type WriteBuffer } from "./write-buffer-pool.js";

/** Entries `[start, start + terms.length)` of a group, encoded for one write. */
export interface EncodedChunk {
  /** The bytes to write; a view of the encoder's buffer, valid until its `release`. */
  readonly buf: Buffer;
  readonly terms: number[];
  /** Offset of each entry inside `buf`. */
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
    while (end < entries.length && (end === start || bytes < room)) {
      const len = payloads[end]!.length;
      if (len > PAYLOAD_BYTES_MAX) {
        throw new RaftError("EINVAL", `entry ${entries[end]!.index} is larger than a segment entry can hold`);
      }
      bytes += ENTRY_HEADER_SIZE + len;
      end++;
    }
    const { buf, view } = this.bufferFor(bytes);
    const terms = new Array<number>(end - start);
    const offsets = new Array<number>(end - start);
    let offset = 0;
    for (let i = start; i < end; i++) {
      const entry = entries[i]!;
      terms[i - start] = entry.term;
      offsets[i - start] = offset;
      offset = encodeEntry(buf, view, offset, entry, payloads[i]!);
    }
    return { buf: buf.subarray(0, bytes), terms, offsets };
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
