/**
 * The load clients of `npm run bench`, each in its own process: braft's counter_client (figures
 * from its own bvar dump), tsraft's counter client (examples/counter/client.js) and the payload
 * client (bench/payload-client.ts). Each resolves with its figures and the CPU seconds it used,
 * so the benchmark can tell the servers' CPU and the rest of the machine's apart.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../test/interop/braft-bin.js";
import {
  counterClientFigures,
  parseBvarDump,
  parseQpsLine,
  type CounterClientFigures,
} from "./counter-client-output.js";
import { exited, spawnTracked, tailOf } from "./bench-children.js";
import { cpuSecondsOf } from "./proc-cpu.js";

/** A client's latency figures (microseconds) and throughput, with the CPU it used itself. */
export interface ClientFigures {
  readonly ops_s: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly p999_us: number;
  readonly errors: number;
  /** The client process's own CPU seconds. */
  readonly client_cpu_s: number;
}

/** Runs a node script that prints JSON lines and resolves with the one marked `"final": true`. */
async function runJsonClient(script: string, args: readonly string[]): Promise<ClientFigures> {
  const child = spawn(process.execPath, [join(REPO_ROOT, script), ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  const final = output
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as ClientFigures & { final?: boolean })
    .find((figures) => figures.final === true);
  if (code !== 0 || final === undefined) throw new Error(`${script} exited with ${String(code)}`);
  return final;
}

/** tsraft's counter client (braft's counter_client rewritten on tsraft), `callers` for `seconds`. */
export function runOwnClient(conf: string, callers: number, seconds: number): Promise<ClientFigures> {
  return runJsonClient("dist/examples/counter/client.js", [
    `--conf=${conf}`,
    `--thread_num=${callers}`,
    `--duration_s=${seconds}`,
    "--json",
  ]);
}

/** The payload client: fetch_add requests padded to `bytes` (see paddedFetchAddRequest). */
export function runPayloadClient(
  conf: string,
  callers: number,
  seconds: number,
  bytes: number,
): Promise<ClientFigures> {
  return runJsonClient("dist/bench/payload-client.js", [
    `--conf=${conf}`,
    `--callers=${callers}`,
    `--seconds=${seconds}`,
    `--bytes=${bytes}`,
  ]);
}

/** braft's counter_client's figures over its measured window, and its own CPU seconds. */
export interface BraftClientResult {
  readonly figures: CounterClientFigures;
  readonly clientCpuSeconds: number;
}

/** braft's run_client.sh flags, as ../shared/braft/README.md gives them. */
function counterClientArgs(conf: string, callers: number): string[] {
  return [
    `-conf=${conf}`,
    `-thread_num=${callers}`,
    "-add_percentage=100",
    "-use_bthread=true",
    "-bthread_concurrency=8",
    "-timeout_ms=1000",
    "-crash_on_fatal_log=true",
    "-log_each_request=false",
  ];
}

/**
 * Runs braft's counter_client for `seconds`, then reads its bvar dump: with `-bvar_dump_interval`
 * set to `seconds`, the dump written at the end of that interval covers the run from its start
 * (bvar's windows keep at most the last 10 s, braft's default dump interval, which its recorder
 * was built with). `onWindowEnd`
 * runs once the figures are in, before the client is stopped: the caller samples CPU there.
 */
export async function runCounterClient(
  braftBin: string,
  conf: string,
  callers: number,
  seconds: number,
  onWindowEnd: () => void | Promise<void> = () => undefined,
): Promise<BraftClientResult> {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-bench-cc-"));
  const log = join(dir, "out.log");
  const args = [
    ...counterClientArgs(conf, callers),
    "-bvar_dump=true",
    `-bvar_dump_interval=${seconds}`,
    "-bvar_dump_file=./bvar.data",
    "-bvar_dump_include=counter_client*",
  ];
  const child = spawnTracked(join(braftBin, "counter_client"), args, dir, log);
  try {
    const startedMs = Date.now();
    const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
    const figures = await waitForDump(dir, startedMs + seconds * 1000, gone);
    const clientCpuSeconds = child.pid === undefined ? 0 : cpuSecondsOf(child.pid);
    await onWindowEnd();
    // Its once-a-second lines must show calls answered (a stuck client would dump zeros too).
    const perSecond = readFileSync(log, "utf8").split("\n").map(parseQpsLine);
    if (!perSecond.some((line) => (line?.qps ?? 0) > 0)) throw new Error("counter_client made no progress");
    return { figures, clientCpuSeconds };
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- counter_client ---\n${tailOf(log)}`);
  } finally {
    await stopCounterClient(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs braft's counter_client for `seconds` as a warm-up. */
export async function warmCounterClient(
  braftBin: string,
  conf: string,
  callers: number,
  seconds: number,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-bench-cc-"));
  const child = spawnTracked(
    join(braftBin, "counter_client"),
    counterClientArgs(conf, callers),
    dir,
    join(dir, "out.log"),
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  } finally {
    await stopCounterClient(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGINT (brpc's "asked to quit": it stops within a second), SIGKILL after 5 s. */
async function stopCounterClient(child: ReturnType<typeof spawnTracked>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited(child);
  clearTimeout(timer);
}

/**
 * Polls the dump files in `dir` until one written at `windowEndMs` or later (wall clock) holds
 * all the recorder's figures: bvar writes a dump as it starts (zeros) and then once per interval.
 */
async function waitForDump(
  dir: string,
  windowEndMs: number,
  gone: () => boolean,
): Promise<CounterClientFigures> {
  const giveUpMs = windowEndMs + 15_000;
  for (;;) {
    if (gone()) throw new Error("counter_client exited before its bvar dump");
    if (dumpWrittenSince(dir, windowEndMs - 500) && counterClientFigures(readDump(dir)) !== undefined) {
      // Read again a moment later: the first read may have caught a file half written.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const figures = counterClientFigures(readDump(dir));
      if (figures !== undefined) return figures;
    }
    if (Date.now() > giveUpMs) throw new Error("no bvar dump from counter_client at the end of its window");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Whether every dump file in `dir` was written at `sinceMs` or later. */
function dumpWrittenSince(dir: string, sinceMs: number): boolean {
  const files = readdirSync(dir).filter((name) => name.startsWith("bvar."));
  return files.length > 0 && files.every((name) => statSync(join(dir, name)).mtimeMs >= sinceMs);
}

/** Every `name : value` of the dump files in `dir` (bvar splits them by kind). */
function readDump(dir: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const file of readdirSync(dir).filter((name) => name.startsWith("bvar.")))
    for (const [name, value] of parseBvarDump(readFileSync(join(dir, file), "utf8"))) values.set(name, value);
  return values;
}
