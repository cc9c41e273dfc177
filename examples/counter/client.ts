/**
 * braft's counter client (example/counter/client.cpp) as a load generator: `--thread_num` callers,
 * each sending one request and waiting for its reply before the next (fetch_add with probability
 * `--add_percentage`, else get), all pipelined over one connection per server. It finds the leader,
 * follows redirects and, after a short backoff, sends again only what is safe to send again: a
 * call the server refused before proposing anything (tsraft's `refused` field) and any get. A
 * fetch_add whose outcome is unknown (a timeout, a lost connection, a redirect without `refused`:
 * the add may still be applied) is never resent, since a resend that also applied would add
 * twice; it is counted in `adds_unknown` and the caller moves on to its next call. (A client
 * that needs every add exactly once tags each with a request id that the state machine
 * deduplicates; braft's counter protocol has no such field.) Once a second, and at the end,
 * it prints `ops_s=… p50_us=… p99_us=… p999_us=… errors=…`; the last line (or, with --json, a JSON
 * object with "final": true) is meant for scripts.
 *
 *   node dist/examples/counter/client.js --conf=127.0.0.1:8100:0,127.0.0.1:8101:0,127.0.0.1:8102:0 \
 *     --thread_num=64 --duration_s=10
 */
import { LatencyHistogram } from "./latency-histogram.js";
import { CounterClient, GET_REQUEST, fetchAddRequest, sleep } from "./counter-client.js";
import type { CounterReply } from "./counter-response.js";
import { parseFlags } from "./flags.js";

const flags = parseFlags("counter client", {
  conf: { default: "", help: "Configuration of the raft group" },
  group: { default: "Counter", help: "Id of the replication group" },
  thread_num: { default: 1, help: "Number of concurrent callers" },
  add_percentage: { default: 100, help: "Percentage of fetch_add (the rest are get)" },
  added_by: { default: 1, help: "Num added by each fetch_add" },
  timeout_ms: { default: 1000, help: "Timeout for each request" },
  duration_s: { default: 0, help: "Stop after this many seconds; 0: run until Ctrl-C" },
  json: { default: false, help: "Print the reports as JSON lines" },
  log_each_request: { default: false, help: "Print each reply" },
});

/** What the run has seen; `window` is reset by each per-second report. */
class Figures {
  readonly total = new LatencyHistogram();
  readonly window = new LatencyHistogram();
  /** Calls that failed (timeout, lost connection, refused connect). */
  errors = 0;
  /** Replies with success=false (not the leader, leadership lost meanwhile). */
  redirects = 0;
  /** fetch_adds answered success=true. */
  addsAcked = 0;
  /** fetch_adds whose outcome is unknown (may or may not be applied): never resent. */
  addsUnknown = 0;
  /** fetch_adds the server refused before proposing (not applied): sent again. */
  addsRefused = 0;
  /** The last value a reply carried (fetch_add: before the add). */
  lastValue = 0;
  /** errors and redirects at the start of the window. */
  windowErrors = 0;
  windowRedirects = 0;
  readonly cpuAtStart = process.cpuUsage();
}

const BACKOFF_MIN_MS = 5;
const BACKOFF_MAX_MS = Math.min(200, Math.max(BACKOFF_MIN_MS, flags.timeout_ms));

async function caller(client: CounterClient, figures: Figures, running: () => boolean): Promise<void> {
  const addRequest = fetchAddRequest(BigInt(flags.added_by));
  const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
  /** The call to send again after a refusal (true: the fetch_add), else a new random one. */
  let resend: boolean | undefined;
  let backoffMs = BACKOFF_MIN_MS;
  const backOff = async (): Promise<void> => {
    await sleep(backoffMs);
    backoffMs = Math.min(BACKOFF_MAX_MS, backoffMs * 2);
  };
  while (running()) {
    const endpoint = await client.leaderOrRefresh();
    if (endpoint === undefined) {
      await backOff();
      continue;
    }
    const add = resend ?? Math.random() * 100 < flags.add_percentage;
    resend = undefined;
    const startMs = performance.now();
    try {
      await client.call(endpoint, add ? "fetch_add" : "get", add ? addRequest : GET_REQUEST, reply);
    } catch (error) {
      figures.errors++;
      if (add) figures.addsUnknown++;
      if (flags.log_each_request) console.error(`Fail to send request to ${endpoint}: ${String(error)}`);
      client.forget(endpoint);
      await backOff();
      continue;
    }
    if (!reply.success) {
      figures.redirects++;
      if (!add || reply.refused) {
        // Nothing happened on the server: the same call again is safe.
        if (add) figures.addsRefused++;
        resend = add;
      } else figures.addsUnknown++;
      client.redirected(endpoint, reply.redirect);
      if (client.leader === undefined || client.leader === endpoint) await backOff();
      continue;
    }
    const latencyUs = (performance.now() - startMs) * 1000;
    figures.window.record(latencyUs);
    if (add) figures.addsAcked++;
    figures.lastValue = reply.value;
    backoffMs = BACKOFF_MIN_MS;
    if (flags.log_each_request) {
      console.log(`Received response from ${endpoint} value=${reply.value} latency=${Math.round(latencyUs)}`);
    }
  }
}

/** One report: over the last window, or (final) over the whole run. */
function report(figures: Figures, histogram: LatencyHistogram, seconds: number, final: boolean): string {
  const cpu = process.cpuUsage(figures.cpuAtStart);
  const fields = {
    ops_s: Math.round(histogram.count / Math.max(seconds, 1e-9)),
    p50_us: histogram.percentile(0.5),
    p99_us: histogram.percentile(0.99),
    p999_us: histogram.percentile(0.999),
    errors: final ? figures.errors : figures.errors - figures.windowErrors,
    redirects: final ? figures.redirects : figures.redirects - figures.windowRedirects,
    ...(final
      ? {
          ops: histogram.count,
          adds_acked: figures.addsAcked,
          adds_unknown: figures.addsUnknown,
          adds_refused: figures.addsRefused,
          added_by: flags.added_by,
          value: figures.lastValue,
          elapsed_s: Number(seconds.toFixed(3)),
          thread_num: flags.thread_num,
          add_percentage: flags.add_percentage,
          // The client's own CPU seconds since its callers started (connection set-up and JIT
          // warm-up included): to check the client is not what limits the figures.
          client_cpu_s: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
        }
      : {}),
  };
  if (flags.json) return JSON.stringify({ final, ...fields });
  const text = Object.entries(fields)
    .map(([key, value]) => `${key}=${value}`)
    .join(" ");
  return final ? text : `[${Math.round(seconds)}s] ${text}`;
}

async function main(): Promise<void> {
  const client = new CounterClient(flags.conf, flags.group, flags.timeout_ms);
  const figures = new Figures();
  let running = true;
  const stop = (): void => {
    if (!running) process.exit(130); // a second Ctrl-C: do not wait for calls in flight
    running = false;
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const startMs = performance.now();
  let windowStartMs = startMs;
  const ticker = setInterval(() => {
    const nowMs = performance.now();
    console.log(report(figures, figures.window, (nowMs - windowStartMs) / 1000, false));
    figures.total.add(figures.window);
    figures.window.reset();
    figures.windowErrors = figures.errors;
    figures.windowRedirects = figures.redirects;
    windowStartMs = nowMs;
  }, 1000);
  const deadline =
    flags.duration_s > 0 ? setTimeout(() => (running = false), flags.duration_s * 1000) : undefined;
  await Promise.all(Array.from({ length: flags.thread_num }, () => caller(client, figures, () => running)));
  const elapsedS = (performance.now() - startMs) / 1000;
  clearInterval(ticker);
  clearTimeout(deadline);
  figures.total.add(figures.window);
  client.close();
  console.log(report(figures, figures.total, elapsedS, true));
}

await main();
