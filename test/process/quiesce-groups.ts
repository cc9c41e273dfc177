/**
 * The real-process scenario of quiescent groups (docs/quiescence.md), for any number of groups:
 * three tsraft servers carry `groups` groups; every group elects and takes a write, then goes
 * quiet on every process; quiet groups wake on a write; one process is killed with SIGKILL and
 * every group elects again (on the two others) and takes a write. quiesce.test.ts runs it with
 * 30 groups; `node dist/test/process/quiesce-1000.js` with 1,000.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";

/** What the scenario measured, for the caller to print. */
export interface QuiesceScenarioResult {
  readonly startMs: number;
  readonly quietAfterMs: number;
  readonly reelectedAfterKillMs: number;
}

/** Runs `body` on each group, `parallel` at a time. */
async function forEachGroup(
  groups: readonly string[],
  parallel: number,
  body: (group: string) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < groups.length) await body(groups[next++] as string);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Writes once to every group, retrying until it is accepted (leaders may still be moving). */
async function writeEverywhere(
  cluster: ProcessCluster,
  groups: readonly string[],
  tag: string,
  waitMs: number,
): Promise<void> {
  await forEachGroup(groups, 16, async (group) => {
    await waitFor(
      `a write to ${group}`,
      async () => ((await cluster.apply(group, tag)) !== undefined ? true : undefined),
      waitMs,
    );
  });
}

async function everyGroupQuiet(cluster: ProcessCluster, groups: number, waitMs: number): Promise<void> {
  await waitFor(
    "every group quiet on every process",
    async () => {
      const summaries = await Promise.all(cluster.running().map((port) => cluster.summary(port)));
      return summaries.every((s) => s.quiet === groups) ? true : undefined;
    },
    waitMs,
  );
}

/**
 * Runs the scenario with `groupCount` groups and election timeout `electionMs`; each wait (all
 * quiet, all led again, every write) may take up to `waitMs`.
 */
export async function runQuiesceScenario(
  groupCount: number,
  electionMs = 1000,
  waitMs = 30_000,
): Promise<QuiesceScenarioResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-quiesce-"));
  const ports = await freePorts(3);
  const groups = Array.from({ length: groupCount }, (_, i) => `q${i}`);
  const cluster = new ProcessCluster(ports, groups, dataDir, ports, { electionMs });
  try {
    const started = performance.now();
    await cluster.startAll();
    await writeEverywhere(cluster, groups, "first", waitMs);
    const startMs = performance.now() - started;
    const idleFrom = performance.now();
    await everyGroupQuiet(cluster, groupCount, waitMs);
    const quietAfterMs = performance.now() - idleFrom;

    // Quiet groups wake on a write, then go quiet again.
    await writeEverywhere(cluster, groups.slice(0, 10), "wake", waitMs);
    await everyGroupQuiet(cluster, groupCount, waitMs);

    // kill -9 the process that leads the most groups: every group elects and takes writes again.
    const leading = await Promise.all(ports.map(async (port) => (await cluster.summary(port)).leading));
    const victim = ports[leading.indexOf(Math.max(...leading))] as number;
    const killedAt = performance.now();
    await cluster.kill(victim);
    await waitFor(
      "every group led on the two processes left",
      async () => {
        const summaries = await Promise.all(cluster.running().map((port) => cluster.summary(port)));
        return summaries.reduce((sum, s) => sum + s.leading, 0) === groupCount ? true : undefined;
      },
      waitMs,
    );
    const reelectedAfterKillMs = performance.now() - killedAt;
    await writeEverywhere(cluster, groups, "after-kill", waitMs);
    assert.deepEqual(
      cluster.failures.filter((code) => code !== "EPERM" && code !== "EHOSTUNREACH"),
      [],
    );
    return { startMs, quietAfterMs, reelectedAfterKillMs };
  } finally {
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
