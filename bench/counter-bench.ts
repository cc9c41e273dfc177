/**
 * `npm run bench`: the counter example as braft measures it, next to the limits of this machine.
 *
 * 1. Limits: raw 256 B append + fdatasync per second on the data disk; the mean append + fsync
 *    of three writers at once (three servers on one disk); a bare baidu_std echo server
 *    (example.CounterService answered at once, no raft) driven by the same client: the most any
 *    server on this stack could answer. From these, the floor of one caller: two round trips
 *    (client-leader, leader-follower) plus one fsync among three writers, with no work at all.
 * 2. A 3-process counter cluster on loopback, fsync on, driven by the counter client (its own
 *    process) with 1, 8, 64 and 256 callers, each waiting for its reply before the next call,
 *    a warm-up then `--seconds` per point; the leader's CPU is read from /proc.
 * 3. The same cluster with raft_sync off at 1 and 8 callers: how much of the time is the disk.
 * 4. Many groups: 300 groups on 3 processes: start-up, idle CPU and RSS per process with the
 *    groups quiet (docs/quiescence.md), total ops/s, and the re-election of the groups of a
 *    killed process; `--groups-large 10000` adds the same point with that many groups.
 *
 * One line per point on stdout; the same lines, with the machine and the date, go to
 * bench/results/bench-<date>.txt.
 *
 *   npm run bench [-- --seconds 20 --warmup 3 --callers 1,8,64,256 --groups 300 --groups-large N --skip-groups
 *                    --skip-limits --skip-nosync]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CounterClient } from "../examples/counter/counter-client.js";
import { freePorts } from "../src/testing/free-ports.js";
import { concurrentSyncMeanUs, rawSyncRate } from "./disk-rate.js";
import { formatManyGroups, runManyGroups } from "./many-groups.js";
import { cpuSecondsOf } from "./proc-cpu.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "20" },
    warmup: { type: "string", default: "3" },
    callers: { type: "string", default: "1,8,64,256" },
    groups: { type: "string", default: "300" },
    "groups-large": { type: "string" },
    "skip-groups": { type: "boolean", default: false },
    "skip-limits": { type: "boolean", default: false },
    "skip-nosync": { type: "boolean", default: false },
  },
});

// The servers' info lines (elections of 300 groups) would drown the figures.
process.env.TSRAFT_LOG_LEVEL ??= "warn";

const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const callerCounts = (values.callers ?? "").split(",").map(Number);
const lines: string[] = [];

function report(line: string): void {
  console.log(line);
  lines.push(line);
}

/** A child node process whose stdout is scanned for a line; stderr passes through. */
function startProcess(script: string, args: readonly string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

interface ClientFigures {
  readonly ops_s: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly errors: number;
}

/** Runs the counter client process; resolves with its final report. */
async function runClient(conf: string, callers: number, durationS: number): Promise<ClientFigures> {
  const args = [
    "dist/examples/counter/client.js",
    `--conf=${conf}`,
    `--thread_num=${callers}`,
    `--duration_s=${durationS}`,
    "--json",
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  const final = output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ClientFigures & { final?: boolean })
    .find((figures) => figures.final === true);
  if (code !== 0 || final === undefined) throw new Error(`counter client exited with ${String(code)}`);
  return final;
}

async function machineLimits(dataDir: string): Promise<void> {
  const raw = await rawSyncRate(dataDir, 256, false, 3000);
  // ops per second of one 256-byte append followed by fdatasync
  report(`limit=disk raw_append_fdatasync_s=${Math.round(raw.ops / raw.seconds)}`);
  // braft's default (and the cluster's): fsync rather than fdatasync.
  const fsyncAmongThreeUs = await concurrentSyncMeanUs(dataDir, 64, true, 3, 3000);
  report(`limit=disk writers=3 append_fsync_mean_us=${Math.round(fsyncAmongThreeUs)}`);
  const [port] = await freePorts(1);
  const echo = await startProcess("dist/bench/echo-server.js", [`--port=${port}`], /READY/);
  try {
    for (const callers of callerCounts) {
      const conf = `127.0.0.1:${port}:0`;
      await runClient(conf, callers, Math.min(warmupSeconds, 2));
      const figures = await runClient(conf, callers, Math.max(3, Math.round(seconds / 4)));
      report(
        `limit=echo clients=${callers} ops_s=${figures.ops_s} p50_us=${figures.p50_us} ` +
          `p99_us=${figures.p99_us} p999_us=${figures.p999_us}`,
      );
      if (callers === 1) {
        const floorUs = 2 * figures.p50_us + fsyncAmongThreeUs;
        report(`limit=floor clients=1 ops_s=${Math.round(1e6 / floorUs)} latency_us=${Math.round(floorUs)}`);
      }
    }
  } finally {
    await stopProcess(echo);
  }
}

/** Runs the counter cluster through `callers`; `sync` is braft's raft_sync. */
async function counterCluster(dataDir: string, callers: readonly number[], sync: boolean): Promise<void> {
  const ports = await freePorts(3);
  const conf = ports.map((port) => `127.0.0.1:${port}:0`).join(",");
  const servers = await Promise.all(
    ports.map((port) =>
      startProcess(
        "dist/examples/counter/server.js",
        [
          `--port=${port}`,
          `--conf=${conf}`,
          `--data_path=${join(dataDir, String(port), sync ? "sync" : "nosync")}`,
          "--election_timeout_ms=1000",
          `--raft_sync=${sync}`,
        ],
        /Counter service is running|READY|listening/i,
      ),
    ),
  );
  const client = new CounterClient(conf, "Counter", 1000);
  try {
    await runClient(conf, 8, warmupSeconds); // elects a leader and warms the JIT
    const leader = await client.leaderOrRefresh();
    const leaderIndex = ports.findIndex((port) => leader === `127.0.0.1:${port}`);
    const leaderPid = servers[leaderIndex]?.pid;
    if (leaderPid === undefined) throw new Error(`no leader among ${conf} (got ${String(leader)})`);
    for (const count of callers) {
      await runClient(conf, count, warmupSeconds);
      const cpu0 = cpuSecondsOf(leaderPid);
      const t0 = performance.now();
      const figures = await runClient(conf, count, seconds);
      const cpuPct = ((cpuSecondsOf(leaderPid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
      report(
        `clients=${count}${sync ? "" : " raft_sync=false"} ops_s=${figures.ops_s} p50_us=${figures.p50_us} p99_us=${figures.p99_us} ` +
          `p999_us=${figures.p999_us} leader_cpu_pct=${Math.round(cpuPct)} errors=${figures.errors}`,
      );
    }
  } finally {
    client.close();
    await Promise.all(servers.map(stopProcess));
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-bench-"));
  const started = new Date();
  try {
    if (values["skip-limits"] !== true) await machineLimits(dataDir);
    await counterCluster(dataDir, callerCounts, true);
    if (values["skip-nosync"] !== true) await counterCluster(dataDir, [1, 8], false);
    if (values["skip-groups"] !== true) {
      const groups = await runManyGroups({
        groups: Number(values.groups),
        electionMs: 5000,
        idleSeconds: 10,
        loadSeconds: Math.min(seconds, 10),
        callers: 64,
      });
      report(formatManyGroups(groups));
      if (values["groups-large"] !== undefined) {
        const large = await runManyGroups({
          groups: Number(values["groups-large"]),
          electionMs: 5000,
          idleSeconds: 10,
          loadSeconds: Math.min(seconds, 10),
          callers: 64,
        });
        report(formatManyGroups(large));
      }
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  const header = [
    `# npm run bench, ${started.toISOString()}`,
    `# ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}, seconds=${seconds}`,
  ];
  mkdirSync("bench/results", { recursive: true });
  const file = join("bench/results", `bench-${started.toISOString().replace(/[:.]/g, "-")}.txt`);
  writeFileSync(file, [...header, ...lines, ""].join("\n"));
  console.log(`wrote ${file}`);
}

await main();
