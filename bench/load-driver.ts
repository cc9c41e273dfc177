/**
 * Closed-loop load: `callers` concurrent callers, each waiting for its reply before its next call
 * (as braft's counter client drives its servers), for a fixed time; reports throughput and latency
 * percentiles. Shared by the cluster benchmarks.
 */

/** One call; resolves when the reply arrives, rejects on failure. */
export type Call = (caller: number) => Promise<void>;

export interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly seconds: number;
  readonly opsPerSecond: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
}

/** Latencies in microseconds, kept in a preallocated typed array so recording allocates nothing. */
class LatencyRecorder {
  private samples = new Float64Array(1 << 16);
  private count = 0;

  record(us: number): void {
    if (this.count === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.count++] = us;
  }

  percentile(p: number): number {
    if (this.count === 0) return 0;
    const sorted = this.samples.subarray(0, this.count).sort();
    return Math.round(sorted[Math.min(this.count - 1, Math.floor(p * this.count))] ?? 0);
  }
}

/** Runs `call` from `callers` loops for `seconds`; calls that fail count as errors, not ops. */
export async function runClosedLoop(callers: number, seconds: number, call: Call): Promise<LoadResult> {
  const latencies = new LatencyRecorder();
  let ops = 0;
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async (caller: number): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await call(caller);
        latencies.record((performance.now() - t0) * 1000);
        ops++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: callers }, (_, i) => loop(i)));
  const elapsed = (performance.now() - start) / 1000;
  return {
    ops,
    errors,
    seconds: elapsed,
    opsPerSecond: Math.round(ops / elapsed),
    p50Us: latencies.percentile(0.5),
    p99Us: latencies.percentile(0.99),
    p999Us: latencies.percentile(0.999),
  };
}
