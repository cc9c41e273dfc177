/**
 * A Prometheus histogram for latencies observed on the write path (a log append, an fsync): an
 * observation is a map lookup by a key built once per node, a bucket search and three additions. Its
 * exposition is prom-client's Histogram's, line for line (test/status/write-path-histogram.test.ts
 * compares them). prom-client's own `observe` converts and validates the labels and hashes them
 * into a string on every call: about 2.5 µs each, right after the fsync a follower's answer waits
 * for, and 2.4% of a follower's CPU at one caller (docs/benchmarks.md, "Flame graphs").
 */
import type { Metric, Registry } from "prom-client";

/** One label set's buckets; `counts[i]` counts the observations in bucket i alone (last: +Inf). */
interface Child {
  readonly labels: Readonly<Record<string, string>>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One line of the exposition: `le` first, then the series' labels, as prom-client writes them. */
interface ValuePair {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly metricName: string;
  /** No exemplars: null on bucket lines and absent on the others, as prom-client has them. */
  readonly exemplar: null | undefined;
}

/** What prom-client's Registry reads of a metric: the shape its own Histogram returns. */
interface HistogramValues<V> {
  readonly name: string;
  readonly help: string;
  readonly type: "histogram";
  readonly aggregator: "sum";
  readonly values: V[];
}

export class WritePathHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly children = new Map<string, Child>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    // The Registry takes any object with prom-client's metric interface (name, get, reset).
    registry.registerMetric(this as unknown as Metric);
  }

  /**
   * The observer of one label set. Its series appears with its first observation and after a
   * `remove` starts again from zero, as prom-client's do; the lookup by a key built here is the
   * only per-observation work beyond the bucket.
   */
  child(labels: Readonly<Record<string, string>>): { observe(seconds: number): void } {
    const key = keyOf(labels);
    const own = { ...labels };
    const { bounds, children } = this;
    return {
      observe(seconds: number): void {
        if (!Number.isFinite(seconds)) return; // a clock that went backwards: not a latency
        let child = children.get(key);
        if (child === undefined) {
          child = { labels: own, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
          children.set(key, child);
        }
        let i = 0;
        while (i < bounds.length && seconds > (bounds[i] as number)) i++;
        child.counts[i] = (child.counts[i] as number) + 1;
        child.sum += seconds;
        child.count++;
      },
    };
  }

  /** Drops a label set's series (its node is gone). */
  remove(labels: Readonly<Record<string, string>>): void {
    this.children.delete(keyOf(labels));
  }

  /** The Registry's text exposition reads this (the series' labels shared by its lines). */
  getForPromString(): Promise<HistogramValues<ValuePair>> {
    const values: ValuePair[] = [];
    const pair = (labels: ValuePair["labels"], value: number, suffix: string, child: Child): void => {
      const exemplar = suffix === "_bucket" ? null : undefined;
      values.push({
        labels,
        sharedLabels: child.labels,
        value,
        metricName: `${this.name}${suffix}`,
        exemplar,
      });
    };
    for (const child of this.children.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += child.counts[i] as number;
        pair({ le: this.bounds[i] as number }, cumulative, "_bucket", child);
      }
      pair({ le: "+Inf" }, child.count, "_bucket", child);
      pair({}, child.sum, "_sum", child);
      pair({}, child.count, "_count", child);
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: "sum", values });
  }

  /** The Registry's JSON reads this: each line's labels in one object, `le` first. */
  async get(): Promise<HistogramValues<Omit<ValuePair, "sharedLabels">>> {
    const data = await this.getForPromString();
    const values = data.values.map(({ labels, sharedLabels, ...rest }) => ({
      ...rest,
      labels: { ...labels, ...sharedLabels },
    }));
    return { ...data, values };
  }

  /** Registry.resetMetrics(): every series back to zero. */
  reset(): void {
    for (const child of this.children.values()) {
      child.counts.fill(0);
      child.sum = 0;
      child.count = 0;
    }
  }
}

function keyOf(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((name) => `${name}\u0000${labels[name]}`)
    .join("\u0001");
}
