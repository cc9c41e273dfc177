/**
 * Many groups per process: 300 groups (by default) on the same 3 server processes, fsync on.
 * Measures each process's CPU while the cluster is idle (heartbeats only), then the total ops/s
 * of closed-loop callers spread over all groups. Prints one line:
 *
 *   groups=300 election_ms=5000 idle_cpu_pct=a,b,c idle_cpu_max_pct=m ops_s=X p50_us=Y p99_us=Z
 *
 * node dist/bench/many-groups.js [--groups 300] [--election-ms 5000] [--idle-s 10] [--load-s 10]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ProcessCluster, freePorts, waitFor } from "../test/process/process-cluster.js";
import { runClosedLoop, type LoadResult } from "./load-driver.js";
import { cpuSecondsOf } from "./proc-cpu.js";

export interface ManyGroupsResult {
  readonly groups: number;
  readonly electionMs: number;
  readonly idleCpuPct: readonly number[];
  readonly load: LoadResult;
}

interface Options {
  readonly groups: number;
  readonly electionMs: number;
  readonly idleSeconds: number;
  readonly loadSeconds: number;
  readonly callers: number;
}

/** Waits until every group has a leader; returns the leader's port per group. */
async function leadersOf(cluster: ProcessCluster, groups: readonly string[]): Promise<Map<string, number>> {
  const leaders = new Map<string, number>();
  const port = cluster.ports[0] as number;
  await waitFor(
    "a leader in every group",
    async () => {
      for (const group of groups) {
        if (leaders.has(group)) continue;
        const dump = await cluster.dump(port, group);
        if (dump.leader !== "") leaders.set(group, Number(dump.leader.split(":")[1]));
      }
      return leaders.size === groups.length ? true : undefined;
    },
    120_000,
  );
  return leaders;
}

async function idleCpu(cluster: ProcessCluster, seconds: number): Promise<number[]> {
  const pids = cluster.ports.map((port) => cluster.pidOf(port));
  const before = pids.map(cpuSecondsOf);
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const elapsed = (performance.now() - start) / 1000;
  return pids.map((pid, i) => Math.round(((cpuSecondsOf(pid) - (before[i] ?? 0)) / elapsed) * 1000) / 10);
}

/**
 * Each group's log fsyncs on libuv's threadpool (4 threads by default), so with hundreds of groups
 * per process the pool, not the disk, caps concurrent fsyncs. The servers get a larger pool, as
 * docs/operations.md recommends for many groups (it doubled ops/s here).
 */
const THREADPOOL_SIZE = "32";

export async function runManyGroups(options: Options): Promise<ManyGroupsResult> {
  process.env.UV_THREADPOOL_SIZE ??= THREADPOOL_SIZE; // inherited by the server processes
  const dir = mkdtempSync(join(tmpdir(), "tsraft-groups-"));
  const ports = await freePorts(3);
  const groups = Array.from({ length: options.groups }, (_, i) => `g${i}`);
  const cluster = new ProcessCluster(ports, groups, dir, ports, { electionMs: options.electionMs });
  try {
    await cluster.startAll();
    const leaders = await leadersOf(cluster, groups);
    // Let elections, first heartbeats and the no-op entries settle before measuring.
    await new Promise((resolve) => setTimeout(resolve, 2 * options.electionMs));
    const idleCpuPct = await idleCpu(cluster, options.idleSeconds);
    let next = 0;
    const load = await runClosedLoop(options.callers, options.loadSeconds, async () => {
      const group = groups[next++ % groups.length] as string;
      const port = leaders.get(group) as number;
      const reply = (await cluster.call(port, "apply", `${group}\nx`)) as {
        ok: boolean;
        leaderId: string | null;
      };
      if (!reply.ok) {
        if (reply.leaderId !== null) leaders.set(group, Number(reply.leaderId.split(":")[1]));
        throw new Error("not the leader");
      }
    });
    return { groups: options.groups, electionMs: options.electionMs, idleCpuPct, load };
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatManyGroups(r: ManyGroupsResult): string {
  return (
    `groups=${r.groups} election_ms=${r.electionMs} idle_cpu_pct=${r.idleCpuPct.join(",")} ` +
    `idle_cpu_max_pct=${Math.max(...r.idleCpuPct)} ops_s=${r.load.opsPerSecond} ` +
    `p50_us=${r.load.p50Us} p99_us=${r.load.p99Us} errors=${r.load.errors}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      groups: { type: "string", default: "300" },
      "election-ms": { type: "string", default: "5000" },
      "idle-s": { type: "string", default: "10" },
      "load-s": { type: "string", default: "10" },
      callers: { type: "string", default: "64" },
    },
  });
  const result = await runManyGroups({
    groups: Number(values.groups),
    electionMs: Number(values["election-ms"]),
    idleSeconds: Number(values["idle-s"]),
    loadSeconds: Number(values["load-s"]),
    callers: Number(values.callers),
  });
  console.log(formatManyGroups(result));
}
