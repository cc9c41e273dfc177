/**
 * Latencies in microseconds, recorded without allocating: log-linear buckets (exact below 128 us,
 * then 64 sub-buckets per power of two, so a percentile is off by under 1.6%), as HdrHistogram does.
 */

const LINEAR = 128;
const SUB_BUCKETS = 64;
/** Enough for 2^31 us (35 minutes); longer latencies land in the last bucket. */
const BUCKETS = LINEAR + 25 * SUB_BUCKETS;

function bucketOf(us: number): number {
  const v = Math.max(0, Math.floor(us));
  if (v < LINEAR) return v;
  if (v >= 2 ** 31) return BUCKETS - 1;
  const shift = 31 - Math.clz32(v) - 6; // v >> shift is in [64, 128)
  return Math.min(BUCKETS - 1, LINEAR + (shift - 1) * SUB_BUCKETS + ((v >> shift) - SUB_BUCKETS));
}

/** The middle of a bucket's range, in microseconds. */
function valueOf(bucket: number): number {
  if (bucket < LINEAR) return bucket;
  const shift = Math.floor((bucket - LINEAR) / SUB_BUCKETS) + 1;
  const low = ((bucket - LINEAR) % SUB_BUCKETS) + SUB_BUCKETS;
  return low * 2 ** shift + 2 ** (shift - 1);
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;

  record(us: number): void {
    const bucket = bucketOf(us);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
    this.count++;
  }

  /** The latency under which a fraction `q` (0..1) of the recorded ones fall; 0 when empty. */
  percentile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      seen += this.counts[bucket] ?? 0;
      if (seen >= rank) return Math.round(valueOf(bucket));
    }
    return Math.round(valueOf(BUCKETS - 1));
  }

  /** Adds `other`'s counts to this one. */
  add(other: LatencyHistogram): void {
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      this.counts[bucket] = (this.counts[bucket] ?? 0) + (other.counts[bucket] ?? 0);
    }
    this.count += other.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
  }
}
