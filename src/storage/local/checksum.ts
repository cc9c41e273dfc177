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
 * Below this many bytes a table-driven CRC in JS beats the native call, whose fixed cost (about
 * 300 ns) dominates for entry headers (20 bytes) and small entries.
 */
const NATIVE_CRC_BYTES_MIN = 128;

/** CRC32C of `bytes` (what braft calls crc32). */
export function crc32cOf(bytes: Uint8Array): number {
  if (bytes.length < NATIVE_CRC_BYTES_MIN) return crc32cRange(bytes, 0, bytes.length);
  return crc32c(bytes) >>> 0;
}

/** CRC32C of `bytes[start, end)` in JS: for short ranges, without creating a subarray. */
export function crc32cRange(bytes: Uint8Array, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = CRC32C_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Byte-wise lookup table of the reflected Castagnoli polynomial 0x82f63b78. */
const CRC32C_TABLE = (() => {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c;
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
