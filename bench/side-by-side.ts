/**
 * braft beside tsraft (issue 18): at each point, `rounds` alternations of braft then tsraft, each
 * run on a fresh 3-server cluster (fsync on) warmed up at 64 callers, measured by the same
 * clients. Counter points: braft's counter_client (its own bvar figures), then tsraft's counter
 * client (exact percentiles), both against the side under test. Payload points: the payload client
 * (fetch_adds padded to 4 KiB or 64 KiB) against both. Each window also reads the servers' CPU
 * (per committed entry), their RSS, and the CPU the rest of the machine used, so a busy window
 * shows. With braft absent or skipped, the same points run on tsraft alone.
 */
import {
  runCounterClient,
  runOwnClient,
  runPayloadClient,
  warmCounterClient,
  type ClientFigures,
} from "./bench-clients.js";
import { BenchCluster, type BenchServer, type Side } from "./bench-cluster.js";
import { machineBusySeconds } from "./proc-cpu.js";
import {
  BUSY_REST_CORES,
  formatRatio,
  formatRun,
  type ClientName,
  type RunFigures,
} from "./side-by-side-lines.js";

export interface SideBySideOptions {
  /** The sides to run, in the order of each round (braft first when it runs). */
  readonly sides: readonly Side[];
  readonly braftBin: string;
  /** A built tsraft tree run as the `base` side (see {@link Side}). */
  readonly baseTree?: string;
  readonly callers: readonly number[];
  readonly payloadBytes: readonly number[];
  readonly payloadCallers: readonly number[];
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  /** braft's raft_sync on both sides (the no-sync points run tsraft alone). */
  readonly sync?: boolean;
  readonly report: (line: string) => void;
}

/** CPU and commit counters at one instant of a window. */
interface Sample {
  readonly atMs: number;
  readonly serverCpuS: number;
  readonly machineBusyS: number;
  readonly selfCpuS: number;
  readonly committed: number;
}

async function sample(cluster: BenchCluster, leader: BenchServer): Promise<Sample> {
  const self = process.cpuUsage();
  return {
    atMs: performance.now(),
    serverCpuS: cluster.cpuSeconds().reduce((a, b) => a + b, 0),
    machineBusyS: machineBusySeconds(),
    selfCpuS: (self.user + self.system) / 1e6,
    committed: await cluster.committedIndex(leader),
  };
}

/** The window's server CPU per committed entry, RSS (leader first) and the rest's cores. */
function windowFigures(
  cluster: BenchCluster,
  leader: BenchServer,
  start: Sample,
  end: Sample,
  clientCpuS: number,
): Pick<RunFigures, "cpuUsPerOp" | "rssMiB" | "restCores"> {
  const seconds = (end.atMs - start.atMs) / 1000;
  const serverCpuS = end.serverCpuS - start.serverCpuS;
  const ours = serverCpuS + clientCpuS + (end.selfCpuS - start.selfCpuS);
  const rss = cluster.rssMiB();
  const leaderIndex = cluster.servers.indexOf(leader);
  return {
    cpuUsPerOp: (serverCpuS * 1e6) / Math.max(1, end.committed - start.committed),
    rssMiB: [rss[leaderIndex] ?? 0, ...rss.filter((_, i) => i !== leaderIndex)],
    restCores: Math.max(0, (end.machineBusyS - start.machineBusyS - ours) / seconds),
  };
}

/** Runs one of our node clients over a window and turns its figures into a run's. */
async function measureNodeClient(
  cluster: BenchCluster,
  leader: BenchServer,
  base: Pick<RunFigures, "side" | "round" | "callers" | "client"> & { bytes?: number },
  run: () => Promise<ClientFigures>,
): Promise<RunFigures> {
  const start = await sample(cluster, leader);
  const figures = await run();
  const end = await sample(cluster, leader);
  return {
    ...base,
    opsPerSecond: figures.ops_s,
    p50Us: figures.p50_us,
    p99Us: figures.p99_us,
    p999Us: figures.p999_us,
    errors: figures.errors,
    ...windowFigures(cluster, leader, start, end, figures.client_cpu_s),
  };
}

/** braft's counter_client over a window (its CPU sampled before it stops). */
async function measureCounterClient(
  options: SideBySideOptions,
  cluster: BenchCluster,
  leader: BenchServer,
  base: Pick<RunFigures, "side" | "round" | "callers">,
): Promise<RunFigures> {
  const start = await sample(cluster, leader);
  let end: Sample | undefined;
  const { figures, clientCpuSeconds } = await runCounterClient(
    options.braftBin,
    cluster.conf,
    base.callers,
    options.seconds,
    async () => void (end = await sample(cluster, leader)),
  );
  return {
    ...base,
    client: "counter_client",
    ...figures,
    ...windowFigures(cluster, leader, start, end ?? start, clientCpuSeconds),
  };
}

/**
 * Callers of the warm-up of every fresh cluster: the most operations per second, so tsraft's JIT
 * has compiled the hot path before any point is measured (a warm-up at 1 caller would leave it
 * half cold); braft gets the same warm-up.
 */
const WARM_UP_CALLERS = 64;

/** `seconds` of load at `callers` by braft's counter_client when braft runs, else by ours. */
async function warmUp(options: SideBySideOptions, cluster: BenchCluster, callers: number, seconds: number) {
  if (options.sides.includes("braft"))
    await warmCounterClient(options.braftBin, cluster.conf, callers, seconds);
  else await runOwnClient(cluster.conf, callers, seconds);
}

/** Starts a fresh cluster of `side`, warms it up, runs `body` against its leader, always stops it. */
async function onFreshCluster<T>(
  side: Side,
  options: SideBySideOptions,
  body: (cluster: BenchCluster, leader: BenchServer) => Promise<T>,
): Promise<T> {
  const cluster = await BenchCluster.start(side, {
    sync: options.sync ?? true,
    braftBin: options.braftBin,
    ...(options.baseTree === undefined ? {} : { baseTree: options.baseTree }),
  });
  try {
    await warmUp(options, cluster, WARM_UP_CALLERS, options.warmupSeconds);
    return await body(cluster, await cluster.leader());
  } finally {
    await cluster.stop();
  }
}

/**
 * The ratio lines of a point by one client: tsraft against braft and against the base tree; the
 * floor against braft (can a Node process reach the target here at all?) and tsraft against the
 * floor (how much of what the machine leaves tsraft uses).
 */
const RATIO_PAIRS: readonly (readonly [Side, Side])[] = [
  ["tsraft", "braft"],
  ["tsraft", "base"],
  ["floor", "braft"],
  ["tsraft", "floor"],
];

function reportRatios(options: SideBySideOptions, runs: readonly RunFigures[], client: ClientName): void {
  for (const [side, against] of RATIO_PAIRS) {
    const line = formatRatio(runs, client, against, side);
    if (line !== undefined) options.report(line);
  }
}

/** One counter point: every round, every side; a line per run, then the ratio lines. */
async function counterPoint(options: SideBySideOptions, callers: number): Promise<RunFigures[]> {
  const withBraftClient = options.sides.includes("braft");
  const runs: RunFigures[] = [];
  const keep = (run: RunFigures): void => {
    runs.push(run);
    options.report(formatRun(run));
  };
  for (let round = 1; round <= options.rounds; round++) {
    for (const side of options.sides) {
      await onFreshCluster(side, options, async (cluster, leader) => {
        const base = { side, round, callers };
        if (withBraftClient) keep(await measureCounterClient(options, cluster, leader, base));
        const client: ClientName = "ours";
        keep(
          await measureNodeClient(cluster, leader, { ...base, client }, () =>
            runOwnClient(cluster.conf, callers, options.seconds),
          ),
        );
      });
    }
  }
  for (const client of ["counter_client", "ours"] as const) reportRatios(options, runs, client);
  return runs;
}

/** One payload size: every round, every side on a fresh cluster, every payload caller count. */
async function payloadPoints(options: SideBySideOptions, bytes: number): Promise<RunFigures[]> {
  const runs: RunFigures[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    // The floor forwards counter requests only: the payload points compare the raft clusters.
    for (const side of options.sides.filter((s) => s !== "floor")) {
      await onFreshCluster(side, options, async (cluster, leader) => {
        for (const callers of options.payloadCallers) {
          await runPayloadClient(cluster.conf, callers, 1, bytes); // the padded path's own warm-up
          const base = { side, round, callers, bytes, client: "payload" as const };
          const run = await measureNodeClient(cluster, leader, base, () =>
            runPayloadClient(cluster.conf, callers, options.seconds, bytes),
          );
          runs.push(run);
          options.report(formatRun(run));
        }
      });
    }
  }
  for (const callers of options.payloadCallers)
    reportRatios(
      options,
      runs.filter((r) => r.callers === callers),
      "payload",
    );
  return runs;
}

/** Every counter point, then every payload size, then how many windows were busy. */
export async function runSideBySide(options: SideBySideOptions): Promise<void> {
  const runs: RunFigures[] = [];
  for (const callers of options.callers) runs.push(...(await counterPoint(options, callers)));
  for (const bytes of options.payloadBytes) runs.push(...(await payloadPoints(options, bytes)));
  const busy = runs.filter((run) => run.restCores > BUSY_REST_CORES).length;
  if (busy > 0)
    options.report(
      `# ${busy} of ${runs.length} windows BUSY (the rest of the machine above ${BUSY_REST_CORES} core): ` +
        "their figures measure the contention; rerun them on a quiet machine",
    );
}

/**
 * Seconds a run of {@link runSideBySide} takes, roughly: a cluster starts and elects in about
 * 4 s, a client process adds about 1.5 s (measured on the loaded 2-core machine).
 */
export function estimateSeconds(options: Omit<SideBySideOptions, "report" | "braftBin">): number {
  const clusters = options.rounds * options.sides.length;
  const payloadClusters = options.rounds * options.sides.filter((side) => side !== "floor").length;
  const clients = options.sides.includes("braft") ? 2 : 1;
  const perCluster = 4 + options.warmupSeconds + 1.5;
  const perCounterRun = perCluster + (options.seconds + 1.5) * clients;
  const perPayloadRun = perCluster + options.payloadCallers.length * (1 + options.seconds + 3);
  return (
    clusters * options.callers.length * perCounterRun +
    payloadClusters * options.payloadBytes.length * perPayloadRun
  );
}
