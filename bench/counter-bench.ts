/**
 * `npm run bench`: tsraft beside braft, the counter example as braft measures it, next to the
 * limits of this machine.
 *
 * 1. Limits: raw 256 B append + fdatasync per second on the data disk; the mean append + fsync
 *    of three writers at once (three servers on one disk); a bare Node TCP ping-pong between two
 *    processes (the floor of one hop here); a bare baidu_std echo server (example.CounterService
 *    answered at once, no raft) driven by the counter client: the most any server on this stack
 *    could answer. From these, the floor of one caller: two echo round trips (client-leader,
 *    leader-follower) plus one fsync among three writers, with no work at all.
 * 2. braft beside tsraft (side-by-side.ts): at 1, 8, 64 and 256 callers, `--rounds` alternations
 *    of braft then tsraft, each on a fresh 3-server cluster with fsync on, driven by braft's
 *    counter_client and by tsraft's counter client; then entries padded to 4 KiB and 64 KiB,
 *    driven by the payload client. One line per run, one ratio line per point. braft's binaries
 *    come from `--braft-bin=DIR`, else TSRAFT_BRAFT_BIN, else ../shared/braft/bin; without them
 *    (or with --skip-braft) one line says why and the same points run on tsraft alone.
 *    `--tsraft-base=DIR` adds a side: the counter example of another built tsraft tree (an older
 *    commit), run just before tsraft in every round, so before/after comes from one run. The
 *    `floor` side (skip it with --skip-floor) runs at the counter points after braft: three Node
 *    processes that only forward, write and fsync (floor-server.ts), the most a Node cluster
 *    could do here. Its ratio to braft says whether a target is within reach of Node on this
 *    machine; tsraft's ratio to it, how much of that reach tsraft uses.
 * 3. tsraft with raft_sync off at 1 and 8 callers: how much of the time is the disk.
 * 4. Many groups: 300 groups on 3 processes: start-up, idle CPU and RSS per process with the
 *    groups quiet (docs/quiescence.md), total ops/s, and the re-election of the groups of a
 *    killed process; `--groups-large 10000` adds the same point with that many groups.
 *
 * One line per point on stdout; the same lines, with the machine and the date, go to
 * bench/results/bench-<date>.txt.
 *
 *   npm run bench [-- --seconds 5 --warmup 2 --callers 1,8,64,256 --rounds 2 --payload-bytes 4096,65536
 *                    --payload-callers 8 --braft-bin=DIR --skip-braft --skip-floor --tsraft-base=DIR --groups 300 --groups-large N --skip-groups
 *                    --skip-limits --skip-nosync --skip-payload]
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { braftBinDir, braftUnavailable } from "../test/interop/braft-bin.js";
import { freePorts } from "../src/testing/free-ports.js";
import { runOwnClient } from "./bench-clients.js";
import { exited, spawnTracked } from "./bench-children.js";
import { concurrentSyncMeanUs, rawSyncRate } from "./disk-rate.js";
import { formatManyGroups, runManyGroups } from "./many-groups.js";
import { runPingPong } from "./ping-pong.js";
import { estimateSeconds, runSideBySide, type SideBySideOptions } from "./side-by-side.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    callers: { type: "string", default: "1,8,64,256" },
    rounds: { type: "string", default: "2" },
    "payload-bytes": { type: "string", default: "4096,65536" },
    "payload-callers": { type: "string", default: "8" },
    "braft-bin": { type: "string" },
    "skip-braft": { type: "boolean", default: false },
    "skip-floor": { type: "boolean", default: false },
    "tsraft-base": { type: "string" },
    groups: { type: "string", default: "300" },
    "groups-large": { type: "string" },
    "skip-groups": { type: "boolean", default: false },
    "skip-limits": { type: "boolean", default: false },
    "skip-nosync": { type: "boolean", default: false },
    "skip-payload": { type: "boolean", default: false },
  },
});

// The servers' info lines (elections of 300 groups) would drown the figures.
process.env.TSRAFT_LOG_LEVEL ??= "warn";

const numbers = (text: string | undefined): number[] =>
  (text ?? "")
    .split(",")
    .filter((part) => part.trim() !== "")
    .map(Number);
const seconds = Number(values.seconds);
const warmupSeconds = Number(values.warmup);
const callerCounts = numbers(values.callers);
const lines: string[] = [];
// counter_client's window ends at its bvar dump, and it must print a second's qps line before.
if (!(seconds >= 2)) throw new Error(`--seconds must be at least 2 (got ${values.seconds})`);

function report(line: string): void {
  console.log(line);
  lines.push(line);
}

/** bench/echo-server.ts on `port` once it printed READY (its output in `dir`); stop it with SIGTERM. */
async function startEchoServer(port: number, dir: string): Promise<ChildProcess> {
  const log = join(dir, "echo-server.log");
  const args = ["dist/bench/echo-server.js", `--port=${port}`];
  const child = spawnTracked(process.execPath, args, process.cwd(), log);
  for (const deadline = performance.now() + 20_000; !/READY/.test(readFileSync(log, "utf8"));) {
    if (child.exitCode !== null || performance.now() > deadline)
      throw new Error("the echo server did not start");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

async function machineLimits(dataDir: string): Promise<void> {
  const raw = await rawSyncRate(dataDir, 256, false, 3000);
  // ops per second of one 256-byte append followed by fdatasync
  report(`limit=disk raw_append_fdatasync_s=${Math.round(raw.ops / raw.seconds)}`);
  // braft's default (and the cluster's): fsync rather than fdatasync.
  const fsyncAmongThreeUs = await concurrentSyncMeanUs(dataDir, 64, true, 3, 3000);
  report(`limit=disk writers=3 append_fsync_mean_us=${Math.round(fsyncAmongThreeUs)}`);
  const ping = await runPingPong(3);
  report(
    `limit=tcp_ping_pong bytes=64 round_trips=${ping.roundTrips} p50_us=${ping.p50Us} p99_us=${ping.p99Us}`,
  );
  const [port] = await freePorts(1);
  const echo = await startEchoServer(port as number, dataDir);
  try {
    for (const callers of callerCounts) {
      const conf = `127.0.0.1:${port}:0`;
      await runOwnClient(conf, callers, Math.min(warmupSeconds, 2));
      const figures = await runOwnClient(conf, callers, Math.max(3, Math.round(seconds / 4)));
      report(
        `limit=echo clients=${callers} ops_s=${figures.ops_s} p50_us=${figures.p50_us} ` +
          `p99_us=${figures.p99_us} p999_us=${figures.p999_us}`,
      );
      if (callers === 1) {
        const floorUs = 2 * figures.p50_us + fsyncAmongThreeUs;
        report(`limit=floor clients=1 ops_s=${Math.round(1e6 / floorUs)} latency_us=${Math.round(floorUs)}`);
        const bareUs = 2 * ping.p50Us + fsyncAmongThreeUs;
        report(
          `limit=floor_bare_tcp clients=1 ops_s=${Math.round(1e6 / bareUs)} latency_us=${Math.round(bareUs)}`,
        );
      }
    }
  } finally {
    echo.kill("SIGTERM");
    await exited(echo);
  }
}

/** braft's binaries directory, or undefined after one line saying why braft is skipped. */
function braftSide(): string | undefined {
  if (values["skip-braft"] === true) {
    report("# braft skipped: --skip-braft; tsraft runs alone");
    return undefined;
  }
  if (values["braft-bin"] !== undefined) process.env["TSRAFT_BRAFT_BIN"] = values["braft-bin"];
  const why = braftUnavailable();
  if (why !== false) {
    report(`# braft skipped: ${why}; tsraft runs alone`);
    return undefined;
  }
  return braftBinDir([]);
}

function sideBySideOptions(braftBin: string | undefined): SideBySideOptions {
  const base = values["tsraft-base"];
  const payload = values["skip-payload"] === true;
  return {
    sides: [
      ...(braftBin === undefined ? [] : (["braft"] as const)),
      ...(values["skip-floor"] === true ? [] : (["floor"] as const)),
      ...(base === undefined ? [] : (["base"] as const)),
      "tsraft",
    ],
    braftBin: braftBin ?? "",
    ...(base === undefined ? {} : { baseTree: base }),
    callers: callerCounts,
    payloadBytes: payload ? [] : numbers(values["payload-bytes"]),
    payloadCallers: numbers(values["payload-callers"]),
    rounds: Number(values.rounds),
    seconds,
    warmupSeconds,
    report,
  };
}

/** The legend of the side-by-side lines, printed before them. */
function legend(options: SideBySideOptions): void {
  const minutes = (estimateSeconds(options) / 60).toFixed(1);
  report(
    `# side by side: ${options.sides.join(" then ")}, ${options.rounds} round(s), fresh 3-server cluster per run, ` +
      `fsync on, warmed up ${options.warmupSeconds} s at 64 callers, ${options.seconds} s per window (about ${minutes} min)`,
  );
  if (options.sides.includes("braft"))
    report(
      "# client=counter_client: braft's own client, figures from its bvar dump (qps, mean, sampled p90/p99/p999; it has no p50)",
    );
  report("# client=ours: tsraft's counter client (examples/counter/client.js), exact p50/p99/p999");
  if (options.sides.includes("floor"))
    report(
      "# side=floor: bench/floor-server.ts, Node processes that only forward, write + fsync and answer (no raft): " +
        "the most a Node cluster could do here; counter points only",
    );
  if (options.payloadBytes.length > 0)
    report(
      "# client=payload: bench/payload-client.ts, fetch_add padded to bytes= (an unknown field both log)",
    );
  report(
    "# cpu_us_op: CPU of the 3 servers per committed entry; rss_mib: leader/follower/follower at the window's end; " +
      "rest_cores: cores busy with anything else meanwhile (BUSY above 0.25: repeat that window)",
  );
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-bench-"));
  const started = new Date();
  try {
    const braftBin = braftSide();
    if (values["skip-limits"] !== true) await machineLimits(dataDir);
    const options = sideBySideOptions(braftBin);
    legend(options);
    await runSideBySide(options);
    if (values["skip-nosync"] !== true) {
      const tag = (line: string): void => report(`raft_sync=false ${line}`);
      await runSideBySide({
        ...options,
        sides: ["tsraft"],
        callers: callerCounts.filter((c) => c <= 8),
        payloadBytes: [],
        rounds: 1,
        sync: false,
        report: tag,
      });
    }
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
    `# npm run bench ${process.argv.slice(2).join(" ")}, ${started.toISOString()}`,
    `# ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}, seconds=${seconds}`,
  ];
  mkdirSync("bench/results", { recursive: true });
  const file = join("bench/results", `bench-${started.toISOString().replace(/[:.]/g, "-")}.txt`);
  writeFileSync(file, [...header, ...lines, ""].join("\n"));
  console.log(`wrote ${file} (${Math.round((Date.now() - started.getTime()) / 1000)} s)`);
}

await main();
