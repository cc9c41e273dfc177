/**
 * The atomic example (braft's example/atomic) as three real processes: its operations, braft's
 * redirect from a follower, and recovery of the map from snapshot and log after kill -9.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isFieldSet } from "@bufbuild/protobuf";
import { AtomicClient, type CallOutcome } from "../../examples/atomic/atomic-client.js";
import { Channel } from "../../src/rpc/channel.js";
import { AtomicResponseSchema, AtomicService } from "../../src/rpc/gen/example/atomic_pb.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { AtomicCluster, waitFor } from "../chaos/atomic-cluster.js";

function ok(outcome: CallOutcome): { success: boolean; oldValue: bigint; newValue: bigint } {
  assert.equal(outcome.outcome, "ok", outcome.outcome === "ok" ? "" : outcome.reason);
  return outcome.outcome === "ok" ? outcome.response : { success: false, oldValue: -1n, newValue: -1n };
}

/** Retries while the group elects a leader (a fresh cluster, or right after a restart). */
async function eventually(call: () => Promise<CallOutcome>): Promise<CallOutcome> {
  return waitFor("an answer", async () => {
    const outcome = await call();
    return outcome.outcome === "ok" ? outcome : undefined;
  });
}

test("AtomicBasic: get, exchange and compare_exchange on three processes; a follower redirects", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-atomic-"));
  const cluster = new AtomicCluster(await freePorts(3), dataDir, { electionTimeoutMs: 500 });
  const client = new AtomicClient(cluster.peers, { timeoutMs: 3000 });
  try {
    await cluster.startAll();
    assert.equal(ok(await eventually(() => client.get(1n))).oldValue, 0n);
    const exchanged = ok(await client.exchange(1n, 5n));
    assert.deepEqual([exchanged.success, exchanged.oldValue, exchanged.newValue], [true, 0n, 5n]);
    assert.equal(ok(await client.get(1n)).newValue, 5n);
    const swapped = ok(await client.compareExchange(1n, 5n, 7n));
    assert.equal(swapped.success, true);
    assert.equal(swapped.oldValue, 5n);
    const refused = ok(await client.compareExchange(1n, 5n, 9n));
    assert.equal(refused.success, false);
    assert.equal(refused.oldValue, 7n);
    assert.equal(ok(await client.exchange(2n, -3n)).oldValue, 0n);
    assert.equal(ok(await client.get(1n)).newValue, 7n);

    // braft's redirect: success=false, no old_value, `redirect` = the leader's peer id.
    const leader = await cluster.waitForLeader();
    const follower = cluster.ports.find((port) => port !== leader) as number;
    const channel = new Channel(`127.0.0.1:${follower}`);
    try {
      const { response } = await callMethod(
        channel,
        AtomicService,
        "exchange",
        { id: 1n, value: 8n },
        {
          timeoutMs: 3000,
        },
      );
      assert.equal(response.success, false);
      assert.equal(isFieldSet(response, AtomicResponseSchema.field.oldValue), false);
      assert.equal(response.redirect, cluster.peerOf(leader));
      assert.equal(response.refused, true);
    } finally {
      channel.close();
    }
    assert.equal(ok(await client.get(1n)).newValue, 7n, "the redirected exchange did not happen");
  } finally {
    client.close();
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("AtomicRestart: after kill -9 of every process the map comes back from snapshot and log", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-atomic-"));
  const cluster = new AtomicCluster(await freePorts(3), dataDir, { electionTimeoutMs: 500 });
  const client = new AtomicClient(cluster.peers, { timeoutMs: 3000 });
  try {
    await cluster.startAll();
    await eventually(() => client.exchange(1n, 10n));
    ok(await client.exchange(2n, 20n));
    // A follower learns the commit with the next append or heartbeat: wait until every node
    // applied what the leader did, so each snapshot holds both writes.
    const leaderApplied = Math.max(
      ...(await Promise.all(cluster.ports.map(async (p) => (await cluster.status(p)).appliedIndex))),
    );
    await waitFor("every node applied the second write", async () => {
      const applied = await Promise.all(
        cluster.ports.map(async (p) => (await cluster.status(p)).appliedIndex),
      );
      return applied.every((index) => index >= leaderApplied) ? true : undefined;
    });
    for (const port of cluster.ports) assert.deepEqual(await cluster.admin(port, "snapshot"), { ok: true });
    ok(await client.compareExchange(1n, 10n, 11n)); // only in the log
    ok(await client.exchange(3n, 30n));

    // braft's snapshot format: a file `data` with "id value" lines.
    const snapshotDir = join(dataDir, String(cluster.ports[0]), "snapshot");
    const [latest] = readdirSync(snapshotDir).filter((name) => name.startsWith("snapshot_"));
    assert.ok(latest !== undefined, "a snapshot was written");
    const lines = readFileSync(join(snapshotDir, latest, "data"), "utf8")
      .trim()
      .split("\n")
      .sort();
    assert.deepEqual(lines, ["1 10", "2 20"]);

    await Promise.all(cluster.ports.map((port) => cluster.kill(port)));
    await cluster.startAll();
    assert.equal(ok(await eventually(() => client.get(1n))).newValue, 11n);
    assert.equal(ok(await client.get(2n)).newValue, 20n);
    assert.equal(ok(await client.get(3n)).newValue, 30n);
  } finally {
    client.close();
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
