import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { Histogram, Registry } from "prom-client";
import { WritePathHistogram } from "../../src/status/write-path-histogram.js";
import { FC_SEED } from "../fc-seed.js";

fc.configureGlobal({ seed: FC_SEED });

const BOUNDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.1, 1, 5];
const SERIES = [
  { group: "Counter", peer: "127.0.0.1:8100:0" },
  { group: 'g"quoted"\\', peer: "127.0.0.1:8101:0" },
];

/** The same observations through prom-client's Histogram and through ours, in two registries. */
function both(observations: readonly [number, number][]): { theirs: Registry; ours: Registry } {
  const theirs = new Registry();
  const ours = new Registry();
  const help = "latency of one write";
  const reference = new Histogram({
    name: "t_seconds",
    help,
    labelNames: ["group", "peer"],
    buckets: BOUNDS,
    registers: [theirs],
  });
  const fast = new WritePathHistogram("t_seconds", help, BOUNDS, ours);
  const children = SERIES.map((labels) => [reference.labels(labels), fast.child(labels)] as const);
  for (const [series, seconds] of observations) {
    const [ref, mine] = children[series] as (typeof children)[number];
    ref.observe(seconds);
    mine.observe(seconds);
  }
  return { theirs, ours };
}

describe("WritePathHistogram", () => {
  test("its text exposition and its JSON are prom-client's Histogram's for the same observations", async () => {
    const value = fc.oneof(
      fc.constantFrom(...BOUNDS, 0, 1e-9, 7.5),
      fc.double({ min: 0, max: 10, noNaN: true, noDefaultInfinity: true }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), value), { maxLength: 60 }),
        async (obs) => {
          const { theirs, ours } = both(obs);
          assert.equal(await ours.metrics(), await theirs.metrics());
          assert.deepEqual(await ours.getMetricsAsJSON(), await theirs.getMetricsAsJSON());
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a series appears with its first observation; remove drops it and the next starts from zero; reset zeroes all", async () => {
    const registry = new Registry();
    const histogram = new WritePathHistogram("t_seconds", "h", [0.001], registry);
    const [a, b] = SERIES as [(typeof SERIES)[number], (typeof SERIES)[number]];
    const observeA = histogram.child(a);
    assert.doesNotMatch(await registry.metrics(), /8100/);
    observeA.observe(0.0005);
    observeA.observe(0.0005);
    histogram.child(b).observe(0.002);
    histogram.remove(a);
    assert.doesNotMatch(await registry.metrics(), /8100/);
    observeA.observe(0.0005);
    assert.match(await registry.metrics(), /t_seconds_count\{group="Counter",peer="127.0.0.1:8100:0"\} 1/);
    assert.match(
      await registry.metrics(),
      /t_seconds_bucket\{le="\+Inf",group="g\\"quoted\\"\\\\",peer="127.0.0.1:8101:0"\} 1/,
    );
    registry.resetMetrics();
    assert.match(
      await registry.metrics(),
      /t_seconds_sum\{group="g\\"quoted\\"\\\\",peer="127.0.0.1:8101:0"\} 0/,
    );
  });
});
