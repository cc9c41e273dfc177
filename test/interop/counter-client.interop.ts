/**
 * braft's own counter_client against three tsraft counter servers (examples/counter): it finds
 * the leader through tsraft's CliService get_leader, follows redirects, and keeps writing across a
 * kill -9 of the leader. Afterwards every node commits and applies the same index.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { committedIndex, committedPast, startBraftCounterClient, withBraftClient } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

describe("BraftCounterClient: braft's counter_client against tsraft's counter servers", { skip }, () => {
  test("LeaderKill: writes go on after kill -9 of the tsraft leader; the restarted node converges to the same counter", async (t) => {
    const cluster = await MixedCluster.start(["tsraft", "tsraft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
    });
    await withBraftClient(
      t,
      cluster,
      (conf, dir) => startBraftCounterClient(conf, dir, 8),
      async (client) => {
        const started = await committedPast(cluster, 500);
        const leader = await cluster.leader();
        await cluster.kill(leader);
        const next = await cluster.leader();
        assert.notEqual(next, leader);
        const afterKill = await committedIndex(cluster);
        await committedPast(cluster, afterKill + 500);
        await client.kill();
        assert.ok(client.running === false && !client.lines.some((l) => l.startsWith("F")), client.tail());
        assert.ok(
          client.lines.some((l) => /qps=\d+/.test(l)),
          `the client reported its throughput\n${client.tail()}`,
        );
        await cluster.startNode(leader);
        const { committed: index, value } = await cluster.convergedState(afterKill + 500);
        t.diagnostic(
          `committed ${started} before the kill of ${leader.peer}, ${afterKill} after; new leader ${next.peer}; converged at ${index}, counter ${value} on every node`,
        );
      },
    );
  });
});
