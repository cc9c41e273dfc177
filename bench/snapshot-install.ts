/**
 * Benchmark of InstallSnapshot between two processes on loopback (issue 5, item 6): a 2-peer
 * group (both needed for quorum) of snapshot-node.js processes applies a few entries; the follower
 * stops; the leader saves a snapshot of one `--size-mib` file of pseudo-random bytes and compacts
 * its whole log; the follower's data is wiped and it restarts, so it can only catch up by copying
 * that snapshot through braft's FileService and loading it (checksum verified by streaming).
 *
 *   npm run bench:snapshot-install -- [--size-mib 256] [--timeout-s 300] [--election-ms 1000]
 *
 * (BENCH_VERBOSE=1 shows the nodes' events and, during the install, their status every second.)
 *
 * Prints one line `snapshot_install size_mib=... seconds=... install_seconds=... mb_s=...
 * leader_peak_rss_mib=... follower_peak_rss_mib=...`, then `rss_budget_mib=150 peak_rss_mib=...
 * ok` (or EXCEEDED, and exit code 1) and writes the first as JSON to
 * bench/results/snapshot-install.json. `seconds` runs from the follower's restart (spawn) until
 * its state machine has loaded the snapshot, so it includes process start and the election the
 * restart needs (the leader stepped down without its quorum); `install_seconds` runs from the
 * follower entering DOWNLOADING to the same point, and `mb_s` (10^6 bytes/s) is over it. Peak RSS
 * is each process's getrusage maxRSS over its whole life (the leader's includes writing the file).
 * `copies` counts the copies the follower started: the leader gives an install RPC up after ten
 * election timeouts and releases its reader, so a slower copy fails and starts over (copies > 1).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BenchProcess, Waiter, freePorts, type BenchEvent } from "./bench-process.js";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "256" },
    "timeout-s": { type: "string", default: "300" },
    "election-ms": { type: "string", default: "1000" },
  },
});
const verbose = process.env["BENCH_VERBOSE"] !== undefined;
const sizeMiB = Number(values["size-mib"]);
const timeoutS = Number(values["timeout-s"]);
/** The most RSS either process may reach during the install (issue 18); beyond it the run fails. */
const RSS_BUDGET_MIB = 150;
/** Entries applied before the snapshot, so it covers a real log. */
const ENTRIES_BEFORE_SNAPSHOT = 10;

const nodeScript = fileURLToPath(new URL("./snapshot-node.js", import.meta.url));
// dist/bench/ -> the source tree's bench/results/, where results are kept.
const resultsDir = fileURLToPath(new URL("../../bench/results/", import.meta.url));

const mib = (kib: unknown): number => Number((Number(kib) / 1024).toFixed(1));

async function run(root: string, waiter: Waiter): Promise<Record<string, unknown>> {
  const ports = await freePorts(2);
  const peers = ports.map((port) => `127.0.0.1:${port}:0`).join(",");
  const start = (port: number): BenchProcess =>
    new BenchProcess(
      `node ${port}`,
      nodeScript,
      [
        ...["--port", String(port), "--peers", peers, "--data", join(root, String(port))],
        ...["--size-mib", String(sizeMiB), "--election-ms", String(values["election-ms"])],
      ],
      waiter,
    );
  const nodes = ports.map(start);
  await waiter.until("both nodes ready", () => (nodes.every((n) => n.last("ready")) ? true : undefined));
  const leader = await waiter.until("a leader", () => nodes.find((n) => n.last("leader") !== undefined));
  const followerPort = ports[nodes.indexOf(leader) === 0 ? 1 : 0] as number;
  const follower = nodes.find((n) => n !== leader) as BenchProcess;

  await leader.request(`apply ${ENTRIES_BEFORE_SNAPSHOT}`, "applied");
  await follower.stop();
  const snapshot = await leader.request("snapshot", "snapshot");
  const snapshotIndex = Number(snapshot["lastSnapshotIndex"]);
  if (snapshotIndex < ENTRIES_BEFORE_SNAPSHOT || Number(snapshot["firstIndex"]) <= snapshotIndex)
    throw new Error(`the leader did not compact its log: ${JSON.stringify(snapshot)}`);
  await rm(join(root, String(followerPort)), { recursive: true, force: true });

  // A rejected heartbeat does not make the leader probe (braft's rule too), so an idle leader
  // would never find the wiped log: one more entry, committed only once the follower is back,
  // makes its replicator probe, find the log compacted, and send the snapshot. (A leader that
  // stepped down for want of its quorum is elected again and probes anyway; the apply waits.)
  const appliedBefore = leader.events.filter((e) => e.event === "applied").length;
  leader.send("apply 1");
  const restartMs = performance.now();
  const wiped = start(followerPort);
  // With BENCH_VERBOSE set, both nodes print their status every second of the install.
  const statusTimer = verbose
    ? setInterval(() => [leader, wiped].forEach((n) => n.send("status")), 1000)
    : undefined;
  const loaded = await waiter
    .until("the wiped follower to load the snapshot", () => wiped.last("loaded"))
    .finally(() => clearInterval(statusTimer));
  const seconds = (performance.now() - restartMs) / 1000;
  check(loaded, snapshot, sizeMiB * 1024 * 1024);
  await waiter.until("the entry after the snapshot to commit", () =>
    leader.events.filter((e) => e.event === "applied").length > appliedBefore ? true : undefined,
  );

  const [leaderExit, followerExit] = await Promise.all([leader.stop(), wiped.stop()]);
  const installSeconds = Number(loaded["installMs"]) / 1000;
  const copies = wiped.events.filter((e) => e.event === "copy").length;
  return {
    bench: "snapshot-install",
    sizeMiB,
    seconds: round(seconds, 3),
    installSeconds: round(installSeconds, 3),
    copies,
    verifySeconds: round(Number(loaded["verifyMs"]) / 1000, 3),
    mbPerS: round((sizeMiB * 1024 * 1024) / installSeconds / 1e6, 1),
    leaderPeakRssMiB: mib(leaderExit["maxRssKiB"]),
    leaderPeakRssBeforeInstallMiB: mib(snapshot["maxRssKiB"]),
    followerPeakRssMiB: mib(followerExit["maxRssKiB"]),
    node: process.version,
  };
}

/** The follower loaded the leader's state, whole. */
function check(loaded: BenchEvent, snapshot: BenchEvent, bytes: number): void {
  if (loaded["value"] !== snapshot["value"] || loaded["bytes"] !== bytes)
    throw new Error(`the follower loaded ${JSON.stringify(loaded)}, expected ${JSON.stringify(snapshot)}`);
  if (typeof loaded["installMs"] !== "number")
    throw new Error("the follower loaded a snapshot without being seen downloading it");
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "tsraft-bench-snapshot-"));
  const waiter = new Waiter(performance.now() + timeoutS * 1000);
  const cleanup = async (): Promise<void> => {
    await Promise.all(waiter.processes.map((p) => p.kill()));
    await rm(root, { recursive: true, force: true });
  };
  // Interrupted: the children exit when their stdin closes; the temp dir goes here.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      rmSync(root, { recursive: true, force: true });
      process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    });
  }
  try {
    const result = await run(root, waiter);
    console.log(
      `snapshot_install size_mib=${sizeMiB} seconds=${result["seconds"]} ` +
        `install_seconds=${result["installSeconds"]} mb_s=${result["mbPerS"]} ` +
        `leader_peak_rss_mib=${result["leaderPeakRssMiB"]} follower_peak_rss_mib=${result["followerPeakRssMiB"]} ` +
        `copies=${result["copies"]}`,
    );
    // Issue 18, item 4: the install must stay under this much RSS on either side.
    const peakMiB = Math.max(Number(result["leaderPeakRssMiB"]), Number(result["followerPeakRssMiB"]));
    const withinBudget = peakMiB <= RSS_BUDGET_MIB;
    console.log(
      `rss_budget_mib=${RSS_BUDGET_MIB} peak_rss_mib=${peakMiB} ${withinBudget ? "ok" : "EXCEEDED"}`,
    );
    if (!withinBudget) process.exitCode = 1;
    if (Number(result["copies"]) > 1)
      console.error(`warning: the follower copied the snapshot ${result["copies"]} times (restarted copies)`);
    await mkdir(resultsDir, { recursive: true });
    await writeFile(join(resultsDir, "snapshot-install.json"), `${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    console.error(`snapshot-install benchmark failed: ${(error as Error).message}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

await main();
