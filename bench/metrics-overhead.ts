/**
 * What one observation costs on the hot path, in ns: the no-op sink against the Prometheus one,
 * for each call the node and rpc layers make (once per write batch, fsync or socket read/write),
 * and what one scrape of a server with `--nodes` nodes costs.
 *
 *   npm run -s build && node dist/bench/metrics-overhead.js [--calls 1000000] [--nodes 3]
 */
import { parseArgs } from "node:util";
import { Registry } from "prom-client";
import { noopRaftMetrics, type RaftMetrics } from "../src/env/metrics.js";
import { PrometheusRaftMetrics } from "../src/status/metrics-events.js";

const { values } = parseArgs({
  options: { calls: { type: "string", default: "1000000" }, nodes: { type: "string", default: "3" } },
});
const calls = Number(values.calls);
const nodeCount = Number(values.nodes);

function nsPerCall(run: (i: number) => void): number {
  for (let i = 0; i < 10_000; i++) run(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) run(i);
  return Math.round((Number(process.hrtime.bigint() - start) / calls) * 10) / 10;
}

function measure(name: string, metrics: RaftMetrics): Record<string, number | string> {
  const node = metrics.node("bench", "127.0.0.1:8100:0");
  const traffic = metrics.rpc.channel("127.0.0.1:8101");
  return {
    sink: name,
    observeAppendNs: nsPerCall((i) => node.observeAppend((i % 50) / 10_000)),
    observeFsyncNs: nsPerCall((i) => node.observeFsync((i % 50) / 10_000)),
    leaderChangedNs: nsPerCall(() => node.leaderChanged()),
    bytesAddNs: nsPerCall((i) => {
      traffic.bytesIn += i & 0xff;
    }),
  };
}

console.log(JSON.stringify({ bench: "metrics-overhead", ...measure("noop", noopRaftMetrics) }));
const registry = new Registry();
const prometheus = new PrometheusRaftMetrics(registry);
console.log(JSON.stringify({ bench: "metrics-overhead", ...measure("prometheus", prometheus) }));

for (let n = 1; n < nodeCount; n++) prometheus.node("bench", `127.0.0.1:${8100 + n}:0`).observeFsync(0.001);
const scrapes = 200;
const start = performance.now();
let bytes = 0;
for (let i = 0; i < scrapes; i++) bytes = (await registry.metrics()).length;
const scrapeMs = Math.round(((performance.now() - start) / scrapes) * 1000) / 1000;
console.log(JSON.stringify({ bench: "metrics-scrape", nodes: nodeCount, scrapeMs, bytes }));
