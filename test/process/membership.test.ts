/**
 * Real processes: a fourth node is added to a running three-node group under load, then removed.
 * No apply may fail except with EPERM or EBUSY while the configuration changes, and every
 * acknowledged write ends up on every voter.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";

const GROUP = "g1";

async function leaderPort(cluster: ProcessCluster, among: readonly number[]): Promise<number> {
  return waitFor("a leader", async () => {
    for (const port of among) if ((await cluster.dump(port, GROUP)).state === "LEADER") return port;
    return undefined;
  });
}

async function change(
  cluster: ProcessCluster,
  leader: number,
  op: "add" | "remove",
  port: number,
): Promise<void> {
  // ECATCHUP: the newcomer did not catch up within one election timeout (300 ms here, short for a
  // loaded machine); braft's answer too, and an operator simply tries again.
  for (let attempt = 1; ; attempt++) {
    const reply = (await cluster.call(leader, "change", `${GROUP}\n${op}\n127.0.0.1:${port}:0`, 15_000)) as {
      ok: boolean;
      code?: string;
    };
    if (reply.ok || reply.code !== "ECATCHUP" || attempt === 5) {
      assert.equal(reply.ok, true, `${op} ${port}: ${reply.code ?? ""} (attempt ${attempt})`);
      return;
    }
  }
}

test("MembershipUnderLoad: add and remove a node of a running group while a client writes", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-membership-"));
  const ports = await freePorts(4);
  const voters = ports.slice(0, 3);
  const newcomer = ports[3] as number;
  const cluster = new ProcessCluster(ports, [GROUP], dataDir, voters);
  const acked: string[] = [];
  let running = true;
  let sequence = 0;
  let writer: Promise<void> = Promise.resolve();
  const write = async (): Promise<void> => {
    while (running) {
      const value = `v${sequence++}`;
      if ((await cluster.apply(GROUP, value)) !== undefined) acked.push(value);
    }
  };
  const progressed = (more: number): Promise<true> => {
    const target = acked.length + more;
    return waitFor(`${more} more writes`, async () => (acked.length >= target ? true : undefined));
  };
  try {
    await cluster.startAll();
    writer = write();
    await progressed(10);
    const leader = await leaderPort(cluster, voters);
    cluster.failures.length = 0; // only failures during the changes count
    await change(cluster, leader, "add", newcomer);
    await progressed(10);
    const members = (await cluster.dump(leader, GROUP)).applied.length;
    assert.ok(members > 0);
    await change(cluster, leader, "remove", newcomer);
    await progressed(10);
    running = false;
    await writer;
    const unexpected = cluster.failures.filter((code) => code !== "EPERM" && code !== "EBUSY");
    assert.deepEqual(unexpected, [], "only EPERM/EBUSY failures during the changes");
    await waitFor("every voter to hold every acknowledged write", async () => {
      const dumps = await Promise.all(voters.map((port) => cluster.dump(port, GROUP)));
      return dumps.every((d) => acked.every((value) => d.applied.includes(value))) ? true : undefined;
    });
  } finally {
    running = false;
    await writer.catch(() => undefined);
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
