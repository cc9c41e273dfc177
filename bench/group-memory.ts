/**
 * Where the memory of idle groups goes: three test servers carry N groups (as many-groups.ts),
 * and once every group is led and quiet each server reports, after a full GC, its RSS, V8 heap,
 * array buffers, external memory and open descriptors. Run it at two N and divide the difference
 * by the difference of N: that is the cost of one more idle group, without the runtime's fixed
 * share. `--heap-snapshot DIR` also writes a heap snapshot of each server there (open it in
 * Chrome DevTools, or summarize it with bench/heap-summary.js). Prints one line:
 *
 *   groups=N ready_ms=R led_ms=L quiet_pct=Q rss_mib=a,b,c heap_used_mib=.. external_mib=..
 *   array_buffers_mib=.. fds=.. timers=..
 *
 * node dist/bench/group-memory.js [--groups 200] [--election-ms 5000] [--heap-snapshot DIR]
 *   [--meta single|merged]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ProcessCluster, freePorts } from "../test/process/process-cluster.js";
import { allLed, settleQuiet, quietPct } from "./many-groups.js";
import { rssMiBOf } from "./proc-cpu.js";

/** What a test server answers to `memory` (process.memoryUsage() after a GC, and its fds). */
export interface ServerMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly fds: number;
  /** Timers armed in the process (Node's active `Timeout` resources). */
  readonly timers: number;
}

export interface GroupMemoryResult {
  readonly groups: number;
  /** From spawning the servers until all printed READY (every node initialized). */
  readonly readyMs: number;
  /** From spawning the servers until every group had a leader. */
  readonly ledMs: number;
  readonly quietPct: number;
  readonly servers: readonly ServerMemory[];
}

export async function measureGroupMemory(options: {
  readonly groups: number;
  readonly electionMs: number;
  readonly heapSnapshotDir?: string | undefined;
  /** Every node's raft meta in one `local-merged://` file per process. */
  readonly mergedMeta?: boolean | undefined;
}): Promise<GroupMemoryResult> {
  // A full GC before each reading, so the heap figures hold live objects only.
  process.env.TSRAFT_CHILD_NODE_ARGS = `${process.env.TSRAFT_CHILD_NODE_ARGS ?? ""} --expose-gc`;
  process.env.UV_THREADPOOL_SIZE ??= "32";
  const dir = mkdtempSync(join(tmpdir(), "tsraft-groupmem-"));
  const ports = await freePorts(3);
  const groups = Array.from({ length: options.groups }, (_, i) => `g${i}`);
  const cluster = new ProcessCluster(ports, groups, dir, ports, {
    electionMs: options.electionMs,
    args: () => (options.mergedMeta === true ? ["--merged-meta"] : []),
  });
  try {
    const started = performance.now();
    await cluster.startAll();
    const readyMs = Math.round(performance.now() - started);
    await allLed(cluster, options.groups);
    const ledMs = Math.round(performance.now() - started);
    await settleQuiet(cluster, options.groups, true, options.electionMs);
    const quiet = await quietPct(cluster, options.groups);
    const servers = await Promise.all(
      ports.map(async (port) => {
        const snapshot =
          options.heapSnapshotDir === undefined
            ? ""
            : `snapshot:${join(options.heapSnapshotDir, `server-${options.groups}-${port}.heapsnapshot`)}`;
        const memory = (await cluster.call(port, "memory", snapshot, 120_000)) as ServerMemory;
        // RSS from /proc after the GC (the same figure many-groups.ts reports).
        return { ...memory, rss: rssMiBOf(cluster.pidOf(port)) * 2 ** 20 };
      }),
    );
    return { groups: options.groups, readyMs, ledMs, quietPct: quiet, servers };
  } finally {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);

export function formatGroupMemory(r: GroupMemoryResult): string {
  const each = (pick: (s: ServerMemory) => number, unit: (n: number) => string = mib): string =>
    r.servers.map((s) => unit(pick(s))).join(",");
  return (
    `groups=${r.groups} ready_ms=${r.readyMs} led_ms=${r.ledMs} quiet_pct=${r.quietPct} ` +
    `rss_mib=${each((s) => s.rss)} heap_used_mib=${each((s) => s.heapUsed)} ` +
    `external_mib=${each((s) => s.external)} array_buffers_mib=${each((s) => s.arrayBuffers)} ` +
    `fds=${each((s) => s.fds, String)} timers=${each((s) => s.timers, String)}`
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      groups: { type: "string", default: "200" },
      "election-ms": { type: "string", default: "5000" },
      "heap-snapshot": { type: "string" },
      meta: { type: "string", default: "single" },
    },
  });
  const result = await measureGroupMemory({
    groups: Number(values.groups),
    electionMs: Number(values["election-ms"]),
    heapSnapshotDir: values["heap-snapshot"],
    mergedMeta: values.meta === "merged",
  });
  console.log(formatGroupMemory(result));
}
