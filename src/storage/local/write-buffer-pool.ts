/**
 * The write buffers of every local log in the process, lent for one write at a time.
 *
 * Each log used to keep its own encoding buffer (64 KiB at least) for its whole life. With
 * thousands of mostly idle groups per process that is a buffer per idle group (docs/quiescence.md,
 * "Cost"): 64 MiB of buffers for 1,000 groups, nearly all waiting for a write that is not coming.
 * A log now borrows a buffer for the encode and write of one chunk and gives it back once the
 * write is done. A busy log takes the same buffer back at its next write, so the hot path still
 * allocates nothing; an idle one holds none.
 */

/**
 * Largest buffer the pool keeps. Batches of up to ~1 MiB (e.g. 256 entries of 4 KiB) reuse
 * pooled buffers; a bigger one is allocated for its write and dropped after it.
 */
export const WRITE_BUFFER_KEPT_BYTES_MAX = 1024 * 1024;

/**
 * Smallest buffer allocated. Sizes are rounded up to a power of two from here, so a log whose
 * batches vary finds one of its size class in the pool. It was 64 KiB: when a process leading
 * thousands of quiet groups died, each survivor wrote a ~100-byte entry in thousands of groups
 * at once, every write held its own 64 KiB buffer until its fsync, and allocating and
 * collecting them was a visible share of the survivors' CPU (docs/benchmarks.md).
 */
export const WRITE_BUFFER_BYTES_MIN = 4 * 1024;

/**
 * Bytes of idle buffers the pool keeps: enough for 4,096 writes of small batches in flight at once
 * (one per group writing), or 16 of the largest kept size. Writes beyond that allocate.
 */
export const POOL_BYTES_MAX = 16 * 1024 * 1024;

/** A lent buffer with a DataView over it (the encoder writes through both). */
export interface WriteBuffer {
  readonly buf: Buffer;
  readonly view: DataView;
}

/**
 * Idle buffers by size class (a power of two from WRITE_BUFFER_BYTES_MIN to
 * WRITE_BUFFER_KEPT_BYTES_MAX: every kept buffer is exactly one), each list newest last. With
 * thousands of small buffers idle after a mass election, one list scanned for a large write
 * would cost a pass over all of them per write.
 */
const free = new Map<number, WriteBuffer[]>();
let freeBytes = 0;

/** A buffer of at least `bytes`, pooled or new; give it back with {@link giveWriteBuffer}. */
export function takeWriteBuffer(bytes: number): WriteBuffer {
  if (bytes <= WRITE_BUFFER_KEPT_BYTES_MAX) {
    // Smallest class first, newest first: a busy log finds the buffer it just gave back.
    for (let size = sizeClassOf(bytes); size <= WRITE_BUFFER_KEPT_BYTES_MAX; size *= 2) {
      const pooled = free.get(size)?.pop();
      if (pooled === undefined) continue;
      freeBytes -= size;
      return pooled;
    }
  }
  // allocUnsafeSlow: a buffer of its own (not a slice of Node's shared pool), never zero-filled
  // because every byte written is encoded first.
  const buf = Buffer.allocUnsafeSlow(bytes <= WRITE_BUFFER_KEPT_BYTES_MAX ? sizeClassOf(bytes) : bytes);
  return { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.length) };
}

/** The power of two at least `bytes` and WRITE_BUFFER_BYTES_MIN. */
function sizeClassOf(bytes: number): number {
  let size = WRITE_BUFFER_BYTES_MIN;
  while (size < bytes) size *= 2;
  return size;
}

/**
 * Returns a buffer once nothing reads it any more (its write completed or failed). Oversized
 * buffers, and any beyond the pool's bound, are left to the garbage collector.
 */
export function giveWriteBuffer(buffer: WriteBuffer): void {
  const bytes = buffer.buf.length;
  if (bytes > WRITE_BUFFER_KEPT_BYTES_MAX || freeBytes + bytes > POOL_BYTES_MAX) return;
  const list = free.get(bytes);
  if (list === undefined) free.set(bytes, [buffer]);
  else list.push(buffer);
  freeBytes += bytes;
}

/** The idle buffers the pool holds now (for tests and the memory benchmark). */
export function pooledWriteBuffers(): { readonly count: number; readonly bytes: number } {
  let count = 0;
  for (const list of free.values()) count += list.length;
  return { count, bytes: freeBytes };
}
