/**
 * The two checksum types a braft segment header can name. tsraft writes CRC32C (braft's
 * CHECKSUM_CRC32, which is Castagnoli via butil::crc32c) and reads both, so segments written by
 * a braft built without hardware CRC32C still load.
 */
import { crc32c } from "@node-rs/crc32";

/** braft's ChecksumType values (log.cpp). */
export const ChecksumType = { MURMURHASH32: 0, CRC32: 1 } as const;
export type ChecksumType = (typeof ChecksumType)[keyof typeof ChecksumType];

/**
 * Below this many bytes the JS CRC beats the native call, whose fixed cost (about 300 ns on the
 * machines we measured) dominates entry headers (20 bytes) and small entries; above it the
 * native, hardware-assisted CRC wins (Node 20 on x86-64; see docs/storage.md, "Writing").
 */
const NATIVE_CRC_BYTES_MIN = 256;

/**
 * Same crossover for {@link crc32cView}, whose word reads make JS about twice as fast as the
 * byte-wise variant, so it wins up to larger inputs.
 */
const NATIVE_CRC_VIEW_BYTES_MIN = 512;

/** CRC32C of `bytes` (what braft calls crc32). */
export function crc32cOf(bytes: Uint8Array): number {
  if (bytes.length < NATIVE_CRC_BYTES_MIN) return crc32cRange(bytes, 0, bytes.length);
  return crc32c(bytes) >>> 0;
}

/**
 * CRC32C of `bytes[start, end)` in JS (slicing-by-8 over single-byte reads), without creating a
 * subarray: for short ranges.
 */
export function crc32cRange(bytes: Uint8Array, start: number, end: number): number {
  const t = CRC32C_TABLES;
  let crc = -1;
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const lo = crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
    crc =
      t[0x700 + (lo & 0xff)]! ^
      t[0x600 + ((lo >>> 8) & 0xff)]! ^
      t[0x500 + ((lo >>> 16) & 0xff)]! ^
      t[0x400 + (lo >>> 24)]! ^
      t[0x300 + bytes[i + 4]!]! ^
      t[0x200 + bytes[i + 5]!]! ^
      t[0x100 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/**
 * CRC32C of `bytes[start, end)`, where `view` is a DataView over exactly `bytes`: slicing-by-16
 * over 32-bit little-endian reads, or the native CRC for long ranges. The writer keeps one view
 * over its reused buffer, since creating a DataView per call costs as much as the CRC itself.
 */
export function crc32cView(view: DataView, bytes: Uint8Array, start: number, end: number): number {
  if (end - start >= NATIVE_CRC_VIEW_BYTES_MIN) return crc32c(bytes.subarray(start, end)) >>> 0;
  const t = CRC32C_TABLES;
  let crc = -1;
  let i = start;
  for (; i + 16 <= end; i += 16) {
    const a = crc ^ view.getInt32(i, true);
    const b = view.getInt32(i + 4, true);
    const c = view.getInt32(i + 8, true);
    const d = view.getInt32(i + 12, true);
    crc =
      t[0xf00 + (a & 0xff)]! ^
      t[0xe00 + ((a >>> 8) & 0xff)]! ^
      t[0xd00 + ((a >>> 16) & 0xff)]! ^
      t[0xc00 + (a >>> 24)]! ^
      t[0xb00 + (b & 0xff)]! ^
      t[0xa00 + ((b >>> 8) & 0xff)]! ^
      t[0x900 + ((b >>> 16) & 0xff)]! ^
      t[0x800 + (b >>> 24)]! ^
      t[0x700 + (c & 0xff)]! ^
      t[0x600 + ((c >>> 8) & 0xff)]! ^
      t[0x500 + ((c >>> 16) & 0xff)]! ^
      t[0x400 + (c >>> 24)]! ^
      t[0x300 + (d & 0xff)]! ^
      t[0x200 + ((d >>> 8) & 0xff)]! ^
      t[0x100 + ((d >>> 16) & 0xff)]! ^
      t[d >>> 24]!;
  }
  for (; i < end; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/**
 * Slicing-by-16 tables of the reflected Castagnoli polynomial 0x82f63b78: table k (at k * 256)
 * advances the CRC over a byte followed by k zero bytes.
 */
const CRC32C_TABLES = (() => {
  const table = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c;
  }
  for (let k = 1; k < 16; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = table[(k - 1) * 256 + n]!;
      table[k * 256 + n] = (prev >>> 8) ^ table[prev & 0xff]!;
    }
  }
  return table;
})();

/** The checksum of `bytes` under `type`, or undefined for a type braft does not define. */
export function checksumOf(type: number, bytes: Uint8Array): number | undefined {
  if (type === ChecksumType.CRC32) return crc32cOf(bytes);
  if (type === ChecksumType.MURMURHASH32) return murmurHash3x86x32(bytes, 0);
  return undefined;
}

/** MurmurHash3_x86_32 (Austin Appleby's reference algorithm), braft's CHECKSUM_MURMURHASH32. */
export function murmurHash3x86x32(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const len = bytes.length;
  const blocks = len & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    const k = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) >>> 0;
    h ^= mixK(k, c1, c2);
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) >>> 0;
  }
  const rest = len & 3;
  if (rest > 0) {
    let tail = 0;
    if (rest === 3) tail ^= bytes[blocks + 2]! << 16;
    if (rest >= 2) tail ^= bytes[blocks + 1]! << 8;
    tail ^= bytes[blocks]!;
    h ^= mixK(tail, c1, c2);
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function mixK(k: number, c1: number, c2: number): number {
  return Math.imul(rotl(Math.imul(k, c1), 15), c2);
}

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}
