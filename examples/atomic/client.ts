/**
 * A small client of the atomic example (braft's flags where they exist).
 *
 *   node dist/examples/atomic/client.js --conf 127.0.0.1:8100:0,... --op get --id 1
 *   node dist/examples/atomic/client.js --conf ... --op exchange --id 1 --value 5
 *   node dist/examples/atomic/client.js --conf ... --op cas --id 1 --expected 5 --value 6
 *   node dist/examples/atomic/client.js --conf ... --thread_num 4 --duration 10
 *
 * Without `--op` it runs braft's client loop: each of `--thread_num` workers keeps incrementing
 * its own id with compare_exchange, and the program prints the rate once a second.
 */
import { parseArgs } from "node:util";
import { AtomicClient, type CallOutcome } from "./atomic-client.js";

const { values: flags } = parseArgs({
  options: {
    conf: { type: "string", default: "127.0.0.1:8100:0" },
    group: { type: "string", default: "Atomic" },
    timeout_ms: { type: "string", default: "1000" },
    op: { type: "string" },
    id: { type: "string", default: "1" },
    value: { type: "string", default: "0" },
    expected: { type: "string", default: "0" },
    thread_num: { type: "string", default: "1" },
    duration: { type: "string", default: "10" },
  },
});

function show(outcome: CallOutcome): string {
  if (outcome.outcome !== "ok") return `${outcome.outcome}: ${outcome.reason}`;
  const r = outcome.response;
  return `success=${r.success} id=${r.id} old_value=${r.oldValue} new_value=${r.newValue} (from ${outcome.server})`;
}

async function worker(
  client: AtomicClient,
  id: bigint,
  until: number,
  counter: { ops: number },
): Promise<void> {
  let value = 0n;
  while (Date.now() < until) {
    const outcome = await client.compareExchange(id, value, value + 1n);
    // Resending after any failure, unknown ones included, is safe: compare_exchange is
    // conditional, so if the first attempt was applied the resend finds value + 1, fails, and
    // the worker carries on from the value it reports. (An exchange could not be resent so.)
    if (outcome.outcome !== "ok") continue;
    value = outcome.response.success ? outcome.response.newValue : outcome.response.oldValue;
    counter.ops++;
  }
}

async function main(): Promise<void> {
  const client = new AtomicClient(flags.conf.split(","), { timeoutMs: Number(flags.timeout_ms) });
  try {
    const id = BigInt(flags.id);
    if (flags.op !== undefined) {
      const outcome =
        flags.op === "get"
          ? await client.get(id)
          : flags.op === "exchange"
            ? await client.exchange(id, BigInt(flags.value))
            : await client.compareExchange(id, BigInt(flags.expected), BigInt(flags.value));
      console.log(show(outcome));
      process.exitCode = outcome.outcome === "ok" ? 0 : 1;
      return;
    }
    const until = Date.now() + Number(flags.duration) * 1000;
    const counter = { ops: 0 };
    const timer = setInterval(() => {
      console.log(`Sending requests to ${flags.group} (${flags.conf}) at qps=${counter.ops}`);
      counter.ops = 0;
    }, 1000);
    const threads = Array.from({ length: Number(flags.thread_num) }, (_, i) =>
      worker(client, BigInt(i + 1), until, counter),
    );
    await Promise.all(threads);
    clearInterval(timer);
  } finally {
    client.close();
  }
}

await main();
