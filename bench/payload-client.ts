/**
 * A closed-loop counter client whose fetch_adds carry `--bytes` of padding (an unknown field both
 * braft's counter and tsraft's keep and log, see paddedFetchAddRequest): the same client drives
 * braft's and tsraft's servers with 4 KiB or 64 KiB entries. `--callers` callers, each waiting for
 * its reply before its next call, for `--seconds`; prints one JSON line with `"final": true`.
 *
 *   node dist/bench/payload-client.js --conf=127.0.0.1:8100:0,... --callers=8 --seconds=5 --bytes=4096
 */
import { parseArgs } from "node:util";
import { CounterClient, fetchAddRequest } from "../examples/counter/counter-client.js";
import type { CounterReply } from "../examples/counter/counter-response.js";
import { paddedFetchAddRequest } from "./counter-client-output.js";
import { runClosedLoop } from "./load-driver.js";

const { values } = parseArgs({
  options: {
    conf: { type: "string", default: "" },
    callers: { type: "string", default: "1" },
    seconds: { type: "string", default: "5" },
    bytes: { type: "string", default: "4096" },
    "timeout-ms": { type: "string", default: "2000" },
  },
});

const client = new CounterClient(values.conf ?? "", "Counter", Number(values["timeout-ms"]));
const request = paddedFetchAddRequest(fetchAddRequest(1n), Number(values.bytes));
const replies: CounterReply[] = [];
const cpuAtStart = process.cpuUsage();

/** One fetch_add through the leader; a redirect or a failure counts as an error (no resend). */
async function call(caller: number): Promise<void> {
  const reply = (replies[caller] ??= { success: false, value: 0, redirect: undefined, refused: false });
  const endpoint = await client.leaderOrRefresh();
  if (endpoint === undefined) throw new Error("no leader");
  try {
    await client.call(endpoint, "fetch_add", request, reply);
  } catch (error) {
    client.forget(endpoint);
    throw error;
  }
  if (!reply.success) {
    client.redirected(endpoint, reply.redirect);
    throw new Error("redirected");
  }
}

const result = await runClosedLoop(Number(values.callers), Number(values.seconds), call);
client.close();
const cpu = process.cpuUsage(cpuAtStart);
console.log(
  JSON.stringify({
    final: true,
    ops_s: result.opsPerSecond,
    p50_us: result.p50Us,
    p99_us: result.p99Us,
    p999_us: result.p999Us,
    errors: result.errors,
    client_cpu_s: (cpu.user + cpu.system) / 1e6,
  }),
);
