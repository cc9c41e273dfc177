/**
 * braft's own atomic_client against three tsraft atomic servers (examples/atomic): each of its
 * callers runs a compare_exchange chain on its own id and exits the process (CHECK) when an
 * answer breaks the chain, so a clean exit after SIGINT means every answer it took was consistent.
 * The leader is killed with -9 under its load; afterwards every node holds the same map.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { atomicStatus } from "./atomic-admin.js";
import { braftBinary, braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { Child, waitFor } from "./processes.js";
import { committedIndex, committedPast, withBraftClient } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

/** Callers of the client, each on its own id 1..CALLERS. */
const CALLERS = 8;

/** braft's atomic_client with the flags run_client.sh gives braft's example clients. */
function startBraftAtomicClient(conf: string, dir: string): Child {
  const args = [
    `--conf=${conf}`,
    `--thread_num=${CALLERS}`,
    "--use_bthread=true",
    "--bthread_concurrency=4",
    "--timeout_ms=1000",
    "--crash_on_fatal_log=true",
    "--log_each_request=false",
  ];
  return new Child("braft atomic_client", braftBinary("atomic_client"), args, dir);
}

/** SIGINT (brpc's "asked to quit"), then its exit code; kill -9 and fail past the deadline. */
async function stopClient(client: Child, timeoutMs = 15_000): Promise<number | string> {
  const timer = setTimeout(() => void client.kill(), timeoutMs);
  try {
    return await client.kill("SIGINT");
  } finally {
    clearTimeout(timer);
  }
}

describe("BraftAtomicClient: braft's atomic_client against tsraft's atomic servers", { skip }, () => {
  test("LeaderKill: the CAS chains stay intact across kill -9 of the leader, the client exits 0, all maps agree", async (t) => {
    const cluster = await MixedCluster.start(["tsraft", "tsraft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
      example: "atomic",
    });
    await withBraftClient(t, cluster, startBraftAtomicClient, async (client) => {
      await committedPast(cluster, 300);
      const leader = await cluster.leader();
      await cluster.kill(leader);
      const next = await cluster.leader();
      assert.notEqual(next, leader);
      const afterKill = await committedIndex(cluster);
      await committedPast(cluster, afterKill + 300);
      const code = await stopClient(client);
      assert.equal(code, 0, `atomic_client exited ${code}\n${client.tail()}`);
      assert.ok(
        !client.lines.some((l) => /^F\d{4}|Check failed/.test(l)),
        `no CHECK failure\n${client.tail()}`,
      );
      await cluster.startNode(leader);
      const index = await cluster.converged(afterKill + 300);
      const maps = await waitFor("every node's map to hold the same values", async () => {
        const dumps = await Promise.all(cluster.nodes.map((node) => atomicStatus(node.port)));
        const texts = dumps.map((status) => JSON.stringify(status.values));
        return texts.every((text) => text === texts[0]) ? dumps[0]?.values : undefined;
      });
      const ids = new Map(maps.map(([id, value]) => [id, BigInt(value)]));
      for (let id = 1; id <= CALLERS; id++)
        assert.ok(
          (ids.get(String(id)) ?? 0n) > 0n,
          `caller ${id} advanced its value: ${JSON.stringify(maps)}`,
        );
      t.diagnostic(
        `killed leader ${leader.peer} at ${afterKill}; new leader ${next.peer}; converged at ${index}; values ${JSON.stringify(maps)}`,
      );
    });
  });
});
