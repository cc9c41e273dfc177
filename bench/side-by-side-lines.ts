/**
 * The lines of the braft-beside-tsraft benchmark, from its figures: one line per run (a side, a
 * round, a client at a point) and one ratio line per point over every round. Pure, so the format
 * is tested without braft.
 */
import type { Side } from "./bench-cluster.js";

/** Which client measured a run: braft's counter_client, tsraft's counter client, the payload client. */
export type ClientName = "counter_client" | "ours" | "payload";

/** One measured window of one client against one side's fresh cluster. */
export interface RunFigures {
  readonly side: Side;
  readonly round: number;
  readonly client: ClientName;
  readonly callers: number;
  /** Padding per entry (payload points only). */
  readonly bytes?: number;
  readonly opsPerSecond: number;
  /** counter_client has a mean and sampled p90/p99/p999, no median; the others have p50. */
  readonly meanUs?: number;
  readonly p50Us?: number;
  readonly p90Us?: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly errors?: number;
  /** CPU microseconds of the three servers together per committed entry. */
  readonly cpuUsPerOp: number;
  /** Resident memory of each server at the end of the window, leader first. */
  readonly rssMiB: readonly number[];
  /** Cores the rest of the machine kept busy meanwhile (neither the servers, the client nor the bench). */
  readonly restCores: number;
}

/** Above this many cores used by the rest of the machine, a window is flagged `busy`. */
export const BUSY_REST_CORES = 0.25;

/** The issue's targets of tsraft/braft ops/s per caller count (issue 18). */
export const RATIO_TARGETS: ReadonlyMap<number, number> = new Map([
  [1, 1.2],
  [8, 1.2],
  [64, 1.5],
  [256, 2.0],
]);

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round = (value: number): string => (Number.isFinite(value) ? String(Math.round(value)) : "?");

/** `bytes=4096 callers=8` or `callers=8`: the point a line belongs to. */
function pointOf(callers: number, bytes: number | undefined): string {
  return `${bytes === undefined ? "" : `bytes=${bytes} `}callers=${callers}`;
}

/** One run's line: throughput, the latencies its client has, server CPU per op, RSS, the rest's CPU. */
export function formatRun(run: RunFigures): string {
  const latency =
    run.client === "counter_client"
      ? `mean_us=${round(run.meanUs ?? NaN)} p90_us=${round(run.p90Us ?? NaN)}`
      : `p50_us=${round(run.p50Us ?? NaN)}`;
  const busy = run.restCores > BUSY_REST_CORES ? " BUSY" : "";
  return (
    `${pointOf(run.callers, run.bytes)} side=${run.side} round=${run.round} client=${run.client} ` +
    `ops_s=${round(run.opsPerSecond)} ${latency} p99_us=${round(run.p99Us)} p999_us=${round(run.p999Us)} ` +
    `cpu_us_op=${round(run.cpuUsPerOp)} rss_mib=${run.rssMiB.map(round).join("/")} ` +
    `rest_cores=${run.restCores.toFixed(2)}${run.errors === undefined ? "" : ` errors=${run.errors}`}${busy}`
  );
}

/** The medians over rounds of one side's runs by one client. */
function mediansOf(runs: readonly RunFigures[]): { ops: number; p99: number; cpu: number; rss: number } {
  return {
    ops: median(runs.map((r) => r.opsPerSecond)),
    p99: median(runs.map((r) => r.p99Us)),
    cpu: median(runs.map((r) => r.cpuUsPerOp)),
    rss: median(runs.map((r) => r.rssMiB[0] ?? NaN)),
  };
}

/**
 * The ratio line of a point: `side`/`against` ops/s and both p99s by `client` (medians over
 * rounds), then each side's server CPU per op and leader RSS; undefined when a side has no run.
 * Against braft the line carries the issue's target; against `base` (the same points on an older
 * tree) it shows what a change did; `floor`/braft shows whether the target is within what this
 * machine leaves a Node process, tsraft/`floor` how close tsraft comes to it.
 */
export function formatRatio(
  runs: readonly RunFigures[],
  client: ClientName,
  against: Side = "braft",
  side: Side = "tsraft",
): string | undefined {
  const mine = runs.filter((r) => r.client === client);
  const other = mine.filter((r) => r.side === against);
  const measured = mine.filter((r) => r.side === side);
  const first = mine[0];
  if (other.length === 0 || measured.length === 0 || first === undefined) return undefined;
  const o = mediansOf(other);
  const t = mediansOf(measured);
  const target =
    against === "braft" && first.bytes === undefined ? RATIO_TARGETS.get(first.callers) : undefined;
  return (
    `ratio ${pointOf(first.callers, first.bytes)} ${side}/${against}=${(t.ops / o.ops).toFixed(2)} ` +
    `p99 ${side}=${round(t.p99)} ${against}=${round(o.p99)} client=${client}` +
    `${target === undefined ? "" : ` target>=${target.toFixed(1)}`} ` +
    `cpu_us_op ${side}=${round(t.cpu)} ${against}=${round(o.cpu)} ` +
    `leader_rss_mib ${side}=${round(t.rss)} ${against}=${round(o.rss)}`
  );
}
