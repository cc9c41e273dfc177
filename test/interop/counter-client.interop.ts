/**
 * braft's own counter_client against three tsraft counter servers (examples/counter): it finds
 * the leader through tsraft's CliService get_leader, follows redirects, and keeps writing across a
 * kill -9 of the leader. Afterwards every node commits and applies the same index.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { committedIndex, committedPast, startBraftCounterClient } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

describe("BraftCounterClient: braft's counter_client against tsraft's counter servers", { skip }, () => {
  test("LeaderKill: writes go on after kill -9 of the tsraft leader; the restarted node converges to the same counter", async (t) => {
    const cluster = await MixedCluster.start(["tsraft", "tsraft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
    });
    const clientDir = await mkdtemp(join(tmpdir(), "tsraft-interop-client-"));
    const client = startBraftCounterClient(cluster.conf, clientDir, 8);
    try {
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
    } catch (error) {
      t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}\n${client.tail()}`);
      throw error;
    } finally {
      await client.kill();
      await cluster.stopAll();
      await rm(clientDir, { recursive: true, force: true });
    }
  });
});
