/**
 * The simulator's only source of randomness: a seeded, splittable PRNG. A run is reproducible
 * from the seed it prints, and each component draws from its own forked stream, so adding a
 * draw in the network does not shift every disk latency that follows.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { JumpableRandomGenerator } from "pure-rand/types/JumpableRandomGenerator";

/** A deterministic random stream (xoroshiro128+ from pure-rand). */
export class Prng {
  /** The root seed this stream descends from; print it to replay a run. */
  readonly seed: number;
  /** The fork labels leading from the root to this stream, e.g. "/network/n1". */
  readonly path: string;
  readonly #rng: JumpableRandomGenerator;

  /**
   * The stream at `path` under root `seed` (any safe integer: a printed seed may exceed 32
   * bits). `new Prng(seed)` is a root; `new Prng(seed, "/net")` equals `root.fork("net")`.
   */
  constructor(seed: number, path = "") {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng seed must be a safe integer: ${seed}`);
    this.seed = seed;
    this.path = path;
    this.#rng = generatorFor(hashString(path, seedKey(seed)));
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return uniformFloat64(this.#rng);
  }

  /** A uniform integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || lo > hi) {
      throw new RangeError(`Prng.int needs integers lo <= hi, got [${lo}, ${hi}]`);
    }
    return uniformInt(this.#rng, lo, hi);
  }

  /** A uniform number in [lo, hi); used for delays and latencies. */
  between(lo: number, hi: number): number {
    if (!(lo <= hi)) throw new RangeError(`Prng.between needs lo <= hi, got [${lo}, ${hi}]`);
    return lo + this.next() * (hi - lo);
  }

  /** True with probability `p` (p <= 0 never draws true, p >= 1 always does). */
  chance(p: number): boolean {
    // Draw even for p = 0 or 1, so changing a rate does not shift the rest of the stream.
    return this.next() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Prng.pick on an empty array");
    return items[this.int(0, items.length - 1)] as T;
  }

  /**
   * An independent stream named `label`. It depends only on this stream's identity and the
   * label, not on how many numbers were drawn here, so the same label gives the same stream.
   * Labels are joined with "/", so fork("a/b") is fork("a").fork("b").
   */
  fork(label: string): Prng {
    return new Prng(this.seed, `${this.path}/${label}`);
  }
}

/** murmur3's 32-bit finalizer: a bijective mix with good avalanche. */
function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function seedKey(seed: number): number {
  const lo = (seed % 0x1_0000_0000) | 0;
  const hi = Math.floor(seed / 0x1_0000_0000) | 0;
  return mix32(lo ^ mix32(hi + 0x6a09e667));
}

/** FNV-1a over UTF-16 code units, started from `basis` and finalized with mix32. */
function hashString(text: string, basis: number): number {
  let h = basis ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** Expands a 32-bit key into a full 128-bit state, so nearby seeds give unrelated streams. */
function generatorFor(key: number): JumpableRandomGenerator {
  // mix32 is a bijection and its four inputs differ, so at most one word is zero: the state is
  // never xoroshiro's all-zero fixed point.
  const words = [1, 2, 3, 4].map((i) => mix32(key + Math.imul(i, 0x9e3779b9)));
  return xoroshiro128plusFromState(words);
}
