/**
 * Many groups per process: 300 groups (by default) on the same 3 server processes, fsync on.
 * Measures the start-up (every group led), each process's CPU and RSS while the cluster is idle
 * (quiet groups, or heartbeats only with `--quiescence off`, docs/quiescence.md), the total ops/s
 * of closed-loop callers spread over all groups, then kills the process leading the most groups
 * (once they are quiet again) and times how long each of its groups takes to be led again.
 * Prints one line:
 *
 *   groups=300 election_ms=5000 quiescence=true start_ms=S quiet_pct=Q idle_cpu_pct=a,b,c
 *   idle_cpu_max_pct=m rss_mib=r,s,t rss_per_group_kib=k ops_s=X p50_us=Y p99_us=Z errors=E cpu_us_op=U
 *   reelect_groups=N reelect_p50_ms=.. reelect_p99_ms=.. reelect_max_ms=.. reelect_max_timeouts=..
 *   reelect_missing=M reelect_cpu_ms_per_group=C
 *
 * `cpu_us_op`: the CPU of the three servers together during the load, per operation: steadier
 * between runs than ops/s on a shared machine.
 *
 * `reelect_cpu_ms_per_group`: the CPU both survivors spent from the kill until every group was
 * led again (or the wait ended), divided by the groups re-elected: what one election costs,
 * comparable between runs whose victims led different numbers of groups.
 *
 * node dist/bench/many-groups.js [--groups 300] [--election-ms 5000] [--idle-s 10] [--load-s 10]
 *   [--quiescence on|off] [--no-kill] [--meta merged|single]
 *
 * `--meta merged` (the default) keeps each process's raft meta in one `local-merged://` file, as
 * docs/storage.md advises for many groups: the first elections of thousands of groups then cost
 * one fsync per batch of votes, not one file replace per group.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ProcessCluster, freePorts, waitFor } from "../test/process/process-cluster.js";
import { runClosedLoop, type LoadResult } from "./load-driver.js";
import { cpuSecondsOf, rssMiBOf } from "./proc-cpu.js";
import { pollUntil } from "../test/support/poll.js";

export interface ManyGroupsResult {
  readonly groups: number;
  readonly electionMs: number;
  readonly quiescence: boolean;
  /** From spawning the servers to a leader in every group. */
  readonly startMs: number;
  /** Share of nodes (groups x 3) quiet at the end of the idle period. */
  readonly quietPct: number;
  readonly idleCpuPct: readonly number[];
  readonly rssBytes: readonly number[];
  readonly load: LoadResult;
  /** CPU microseconds of the three servers together per operation of the load. */
  readonly loadCpuUsPerOp: number;
  /** Per group the killed process led: ms from the kill until a live process led it. */
  readonly reelectMs: readonly number[];
  /** Groups the killed process led that had no new leader when the wait ended. */
  readonly reelectMissing: number;
  /** CPU ms of both survivors from the kill to the end of the wait, per group re-elected. */
  readonly reelectCpuMsPerGroup: number;
}

interface Options {
  readonly groups: number;
  readonly electionMs: number;
  readonly idleSeconds: number;
  readonly loadSeconds: number;
  readonly callers: number;
  /** Serve tsraft's LivenessService so idle groups quiesce (true by default). */
  readonly quiescence?: boolean | undefined;
  /** Kill the busiest process at the end and time the re-elections (true by default). */
  readonly kill?: boolean | undefined;
  /** Every node's raft meta in one `local-merged://` file per process (true by default). */
  readonly mergedMeta?: boolean | undefined;
}

type Summary = { groups: number; leading: number; quiet: number };
type Led = { group: string; term: number }[];

/** Share of nodes quiet on every process now. */
export async function quietPct(cluster: ProcessCluster, groups: number): Promise<number> {
  const summaries = (await Promise.all(cluster.running().map((port) => cluster.summary(port)))) as Summary[];
  const quiet = summaries.reduce((sum, s) => sum + s.quiet, 0);
  return Math.round((quiet / (groups * summaries.length)) * 1000) / 10;
}

/** How long a wait over `groups` groups may take: 2 minutes, or 60 ms per group for thousands. */
function boundMs(groups: number): number {
  return Math.max(120_000, groups * 60);
}

/** Waits (bounded) until every group is quiet again, so the kill hits quiet groups. */
export async function settleQuiet(
  cluster: ProcessCluster,
  groups: number,
  quiescence: boolean,
  electionMs: number,
): Promise<void> {
  if (!quiescence) {
    await new Promise((resolve) => setTimeout(resolve, 2 * electionMs));
    return;
  }
  await waitFor(
    "every group quiet",
    async () => ((await quietPct(cluster, groups)) >= 100 ? true : undefined),
    boundMs(groups),
  ).catch(() => undefined);
}

/** How often the re-election phase lists the groups led on the survivors. */
const REELECT_POLL_MS = 100;

/**
 * Kills the process leading the most groups; for each of those groups, the time until one of the
 * two live processes leads it (in a newer term), polled every REELECT_POLL_MS. Groups still
 * without a leader when the wait ends are counted as missing.
 */
async function killAndTimeReelection(
  cluster: ProcessCluster,
): Promise<{ reelectMs: number[]; missing: number; cpuMs: number }> {
  const ports = cluster.running();
  const led = await Promise.all(ports.map(async (port) => (await cluster.call(port, "leaders", "")) as Led));
  const sizes = led.map((l) => l.length);
  const victimIndex = sizes.indexOf(Math.max(...sizes));
  const victim = ports[victimIndex] as number;
  const oldTerms = new Map((led[victimIndex] ?? []).map(({ group, term }) => [group, term]));
  const survivors = ports.filter((port) => port !== victim).map((port) => cluster.pidOf(port));
  const cpuBefore = survivors.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const killedAt = performance.now();
  await cluster.kill(victim);
  const reelectedMs = new Map<string, number>();
  await pollUntil(
    "every group of the killed process led again",
    async () => {
      const now = performance.now() - killedAt;
      for (const port of cluster.running()) {
        for (const { group, term } of (await cluster.call(port, "leaders", "", 10_000)) as Led) {
          const old = oldTerms.get(group);
          if (old !== undefined && term > old && !reelectedMs.has(group)) reelectedMs.set(group, now);
        }
      }
      return reelectedMs.size === oldTerms.size ? true : undefined;
    },
    // Each poll lists every group led on both survivors (thousands); every 20 ms that took a
    // few percent of their CPU during the elections it times. 100 ms is 2% of the timeout.
    { timeoutMs: boundMs(oldTerms.size), intervalMs: REELECT_POLL_MS, errorsMeanNotYet: true },
  ).catch(() => undefined); // the groups still without a leader are reported, not thrown
  const cpuAfter = survivors.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  return {
    reelectMs: [...reelectedMs.values()].sort((a, b) => a - b),
    missing: oldTerms.size - reelectedMs.size,
    cpuMs: (cpuAfter - cpuBefore) * 1000,
  };
}

/**
 * Waits until every group has a leader; returns the leader's port per group (the newest term's
 * when two processes both still claim one). One `leaders` call per process per poll, so polling
 * 10,000 groups costs three calls, not 10,000.
 */
export async function allLed(cluster: ProcessCluster, groups: number): Promise<Map<string, number>> {
  return waitFor(
    "a leader in every group",
    async () => {
      const leaders = new Map<string, { port: number; term: number }>();
      for (const port of cluster.running()) {
        for (const { group, term } of (await cluster.call(port, "leaders", "", 10_000)) as Led) {
          if ((leaders.get(group)?.term ?? -1) < term) leaders.set(group, { port, term });
        }
      }
      if (leaders.size < groups) return undefined;
      return new Map([...leaders].map(([group, { port }]) => [group, port]));
    },
    600_000,
  );
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
  const quiescence = options.quiescence ?? true;
  const cluster = new ProcessCluster(ports, groups, dir, ports, {
    electionMs: options.electionMs,
    args: () => [
      "--quiescence",
      quiescence ? "on" : "off",
      ...((options.mergedMeta ?? true) ? ["--merged-meta"] : []),
    ],
  });
  try {
    const started = performance.now();
    await cluster.startAll();
    const leaders = await allLed(cluster, options.groups);
    const startMs = Math.round(performance.now() - started);
    // Let elections, first heartbeats and the no-op entries settle (and groups quiesce).
    await settleQuiet(cluster, options.groups, quiescence, options.electionMs);
    const idleCpuPct = await idleCpu(cluster, options.idleSeconds);
    const rssBytes = cluster.ports.map((port) => rssMiBOf(cluster.pidOf(port)) * 2 ** 20);
    const quiet = await quietPct(cluster, options.groups);
    let next = 0;
    const serverPids = cluster.ports.map((port) => cluster.pidOf(port));
    const loadCpuBefore = serverPids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
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
    const loadCpuS = serverPids.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0) - loadCpuBefore;
    const loadCpuUsPerOp = load.ops === 0 ? 0 : Math.round((loadCpuS * 1e6) / load.ops);
    // The figures so far, in case the kill phase of a large point does not finish.
    console.error(
      `many-groups: start_ms=${startMs} idle_cpu_pct=${idleCpuPct.join(",")} ` +
        `rss_mib=${rssBytes.map((b) => Math.round(b / 2 ** 20)).join(",")} ops_s=${load.opsPerSecond}`,
    );
    let reelect = { reelectMs: [] as number[], missing: 0, cpuMs: 0 };
    if (options.kill ?? true) {
      await settleQuiet(cluster, options.groups, quiescence, options.electionMs);
      reelect = await killAndTimeReelection(cluster);
    }
    return {
      groups: options.groups,
      electionMs: options.electionMs,
      quiescence,
      startMs,
      quietPct: quiet,
      idleCpuPct,
      rssBytes,
      load,
      loadCpuUsPerOp,
      reelectMs: reelect.reelectMs,
      reelectMissing: reelect.missing,
      reelectCpuMsPerGroup: reelect.reelectMs.length === 0 ? 0 : reelect.cpuMs / reelect.reelectMs.length,
    };
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The value at quantile `q` of ascending `sorted` (0 when empty). */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
}

export function formatManyGroups(r: ManyGroupsResult): string {
  const mib = r.rssBytes.map((b) => Math.round(b / 2 ** 20));
  const perGroupKiB = Math.round(Math.max(...r.rssBytes) / r.groups / 1024);
  const maxMs = quantile(r.reelectMs, 1);
  return (
    `groups=${r.groups} election_ms=${r.electionMs} quiescence=${r.quiescence} start_ms=${r.startMs} ` +
    `quiet_pct=${r.quietPct} idle_cpu_pct=${r.idleCpuPct.join(",")} ` +
    `idle_cpu_max_pct=${Math.max(...r.idleCpuPct)} rss_mib=${mib.join(",")} rss_per_group_kib=${perGroupKiB} ` +
    `ops_s=${r.load.opsPerSecond} p50_us=${r.load.p50Us} p99_us=${r.load.p99Us} errors=${r.load.errors} ` +
    `cpu_us_op=${r.loadCpuUsPerOp} ` +
    `reelect_groups=${r.reelectMs.length} reelect_p50_ms=${quantile(r.reelectMs, 0.5)} ` +
    `reelect_p99_ms=${quantile(r.reelectMs, 0.99)} reelect_max_ms=${maxMs} ` +
    `reelect_max_timeouts=${(maxMs / r.electionMs).toFixed(2)} reelect_missing=${r.reelectMissing} ` +
    `reelect_cpu_ms_per_group=${r.reelectCpuMsPerGroup.toFixed(2)}`
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
      quiescence: { type: "string", default: "on" },
      "no-kill": { type: "boolean", default: false },
      meta: { type: "string", default: "merged" },
    },
  });
  const result = await runManyGroups({
    groups: Number(values.groups),
    electionMs: Number(values["election-ms"]),
    idleSeconds: Number(values["idle-s"]),
    loadSeconds: Number(values["load-s"]),
    callers: Number(values.callers),
    quiescence: values.quiescence !== "off",
    kill: values["no-kill"] !== true,
    mergedMeta: values.meta !== "single",
  });
  console.log(formatManyGroups(result));
}
