/**
 * Real processes on loopback: three tsraft servers carrying two groups on local:// storage. Nodes,
 * leaders among them, are killed with SIGKILL while a client writes, and restarted; in the end every
 * node of each group has applied the same sequence, holding every acknowledged write exactly once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";

const GROUPS = ["g1", "g2"];
const ROUNDS = 4;

class Writer {
  readonly acked = new Map<string, string[]>(GROUPS.map((g) => [g, []]));
  private running = true;
  private sequence = 0;
  private readonly loop: Promise<void>;

  constructor(private readonly cluster: ProcessCluster) {
    this.loop = this.run();
  }

  get count(): number {
    return [...this.acked.values()].reduce((sum, values) => sum + values.length, 0);
  }

  /** Resolves once `more` further writes were acknowledged. */
  progressed(more: number): Promise<true> {
    const target = this.count + more;
    return waitFor(`${more} more acknowledged writes`, async () => (this.count >= target ? true : undefined));
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      for (const group of GROUPS) {
        const value = `${group}-${this.sequence++}`;
        if ((await this.cluster.apply(group, value)) !== undefined) this.acked.get(group)?.push(value);
      }
    }
  }
}

async function leaderPort(cluster: ProcessCluster, group: string): Promise<number> {
  return waitFor(`a leader of ${group}`, async () => {
    for (const port of cluster.running()) {
      const dump = await cluster.dump(port, group);
      if (dump.state === "LEADER") return port;
    }
    return undefined;
  });
}

async function converged(
  cluster: ProcessCluster,
  group: string,
  acked: readonly string[],
): Promise<string[]> {
  return waitFor(
    `every node of ${group} to apply every acknowledged write`,
    async () => {
      const dumps = await Promise.all(cluster.ports.map((port) => cluster.dump(port, group)));
      const [first, ...rest] = dumps.map((d) => d.applied);
      if (first === undefined || rest.some((a) => a.join() !== first.join())) return undefined;
      return acked.every((value) => first.includes(value)) ? first : undefined;
    },
    30_000,
  );
}

test("KillNine: two groups on three processes survive repeated SIGKILL without losing an acknowledged write", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-kill9-"));
  const cluster = new ProcessCluster(await freePorts(3), GROUPS, dataDir);
  try {
    await cluster.startAll();
    const writer = new Writer(cluster);
    await writer.progressed(10);
    for (let round = 0; round < ROUNDS; round++) {
      const group = GROUPS[round % GROUPS.length] as string;
      const victim =
        round % 2 === 0 ? await leaderPort(cluster, group) : (cluster.ports[round % 3] as number);
      await cluster.kill(victim);
      await writer.progressed(10); // the two survivors still form a quorum of both groups
      await cluster.start(victim);
      await writer.progressed(10);
    }
    await writer.stop();
    for (const group of GROUPS) {
      const acked = writer.acked.get(group) ?? [];
      const applied = await converged(cluster, group, acked);
      assert.equal(new Set(applied).size, applied.length, `${group}: no write applied twice`);
      assert.ok(acked.length >= 20, `${group}: ${acked.length} writes acknowledged`);
    }
  } finally {
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
