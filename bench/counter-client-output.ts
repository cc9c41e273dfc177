/**
 * What braft's counter_client prints, read back: its once-a-second log line (`... at qps=N
 * latency=US`) and the files its bvar dump writes (`-bvar_dump`), where its LatencyRecorder
 * `counter_client` shows throughput, mean latency and sampled percentiles (80, 90, 99, 99.9,
 * 99.99; it has no median). Pure: the runner in counter-client-run.ts feeds them the text.
 */

/** One per-second line of counter_client: its qps and mean latency over the last second. */
export interface QpsLine {
  readonly qps: number;
  readonly latencyUs: number;
}

/** Parses `... at qps=5334 latency=1434`; undefined for any other line. */
export function parseQpsLine(line: string): QpsLine | undefined {
  const match = /\bqps=(\d+) latency=(\d+)\s*$/.exec(line);
  if (match === null) return undefined;
  return { qps: Number(match[1]), latencyUs: Number(match[2]) };
}

/** `name : value` lines of a bvar dump file, numeric values only. */
export function parseBvarDump(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\S+)\s*:\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
    if (match !== null) values.set(match[1] as string, Number(match[2]));
  }
  return values;
}

/** counter_client's figures over one bvar window, in microseconds. */
export interface CounterClientFigures {
  readonly opsPerSecond: number;
  readonly meanUs: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
}

/**
 * The LatencyRecorder's figures out of a dump (every file of it merged into `values`); the names
 * end in `_qps`, `_latency`, `_latency_90`, ... whatever prefix the dump gives them. Undefined
 * until each one is there (a dump being written, or not yet written).
 */
export function counterClientFigures(values: ReadonlyMap<string, number>): CounterClientFigures | undefined {
  const bySuffix = (suffix: string): number | undefined => {
    for (const [name, value] of values) if (name.endsWith(`counter_client${suffix}`)) return value;
    return undefined;
  };
  const figures = {
    opsPerSecond: bySuffix("_qps"),
    meanUs: bySuffix("_latency"),
    p90Us: bySuffix("_latency_90"),
    p99Us: bySuffix("_latency_99"),
    p999Us: bySuffix("_latency_999"),
  };
  if (Object.values(figures).some((value) => value === undefined)) return undefined;
  return figures as CounterClientFigures;
}

/**
 * A FetchAddRequest{value} followed by `padBytes` bytes in field 15 (length-delimited), which
 * neither side knows: both keep unknown fields and log the request as it arrived (braft's counter
 * serializes the parsed request, unknown fields included; tsraft's re-encodes it with them), so
 * each entry carries the padding through raft, disk and replication on braft and tsraft alike.
 * This is how both are driven with 4 KiB or 64 KiB entries by the same client.
 */
export function paddedFetchAddRequest(plain: Uint8Array, padBytes: number): Uint8Array {
  if (padBytes <= 0) return plain;
  const length: number[] = [];
  for (let rest = padBytes; ; rest = Math.floor(rest / 128)) {
    if (rest < 128) {
      length.push(rest);
      break;
    }
    length.push((rest % 128) | 128);
  }
  const FIELD_15_LENGTH_DELIMITED = (15 << 3) | 2;
  const out = new Uint8Array(plain.length + 1 + length.length + padBytes);
  out.set(plain, 0);
  out.set([FIELD_15_LENGTH_DELIMITED, ...length], plain.length);
  out.fill(0x78, plain.length + 1 + length.length);
  return out;
}
