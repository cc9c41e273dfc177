/**
 * What one idle group keeps for its whole life (docs/quiescence.md, "Cost"): nodes that take the
 * process-wide flags share one resolved copy, and a node's snapshot metrics appear only with its
 * first snapshot operation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { flags, resolveFlags } from "../../src/node/flags.js";
import { PrometheusRaftMetrics } from "../../src/status/metrics-events.js";

test("SharedFlags: nodes without overrides share one frozen copy until a process-wide flag changes", () => {
  const first = resolveFlags();
  assert.equal(resolveFlags({}), first, "the same copy for a second node");
  assert.ok(Object.isFrozen(first));
  const own = resolveFlags({ raft_sync: false });
  assert.notEqual(own, first);
  assert.equal(own.raft_sync, false);
  const saved = flags.raft_max_segment_size;
  try {
    flags.raft_max_segment_size = saved + 1;
    const changed = resolveFlags();
    assert.notEqual(changed, first, "a change makes a new copy");
    assert.equal(changed.raft_max_segment_size, saved + 1);
    assert.equal(first.raft_max_segment_size, saved, "nodes already running keep theirs");
  } finally {
    flags.raft_max_segment_size = saved;
  }
});

test("LazySnapshotMetrics: a node's snapshot series appear with its first snapshot operation", async () => {
  const registry = new Registry();
  const metrics = new PrometheusRaftMetrics(registry);
  const node = metrics.node("g1", "127.0.0.1:8100:0");
  const series = async (name: string) =>
    (await registry.getSingleMetric(name)?.get())?.values.filter((v) => v.labels.group === "g1") ?? [];
  assert.equal((await series("tsraft_snapshots_total")).length, 0, "no snapshot series while idle");
  assert.equal((await series("tsraft_elections_total")).length, 2, "election counters start at 0");
  node.snapshotFinished("save", 0.5, true);
  const saves = await series("tsraft_snapshots_total");
  assert.deepEqual(saves.map((v) => [v.labels.op, v.labels.result, v.value]).sort(), [
    ["save", "error", 0],
    ["save", "ok", 1],
  ]);
  const seconds = await series("tsraft_snapshot_seconds");
  assert.ok(
    seconds.some(
      (v) => (v as { metricName?: string }).metricName === "tsraft_snapshot_seconds_count" && v.value === 1,
    ),
  );
  node.close();
  assert.equal((await series("tsraft_snapshots_total")).length, 0, "gone with the node");
});
