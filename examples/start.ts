/**
 * `npm start`: braft's counter as a 3-node cluster of child processes on loopback, with a small
 * visible workload. Each node is `examples/counter/server.js` on its own port (8100-8102 by
 * default), storing under `<data_path>/<port>`; its output comes through prefixed with its name.
 * A fetch_add every `--interval_ms` goes to the leader and the new value is printed. Ctrl-C (or
 * SIGTERM) stops the workload, sends SIGTERM to the nodes, waits for them and exits 0. Run it
 * again and the counter continues from where it stopped.
 *
 * Before starting anything it checks that every port is free: a port in use may be another
 * `npm start` (or a real cluster), and driving its nodes as if they were ours would add to
 * someone else's counter. It then stops at once (exit 1), naming the port and how to choose
 * others. The banner prints each node's PID and the command that restarts it after a kill.
 *
 *   npm start
 *   npm start -- --ports=9100,9101,9102 --data_path=/tmp/counter --interval_ms=200
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CounterClient, fetchAddRequest, sleep } from "./counter/counter-client.js";
import type { CounterReply } from "./counter/counter-response.js";
import { parseFlags } from "./counter/flags.js";

const flags = parseFlags("npm start --", {
  ip: { default: "127.0.0.1", help: "Address the nodes listen on" },
  ports: { default: "8100,8101,8102", help: "Ports of the three nodes" },
  data_path: { default: "./data", help: "Each node stores under <data_path>/<port>" },
  group: { default: "Counter", help: "Id of the replication group" },
  election_timeout_ms: { default: 1000, help: "The nodes' election timeout (braft's counter: 5000)" },
  snapshot_interval: { default: 30, help: "Seconds between the nodes' snapshots" },
  interval_ms: { default: 500, help: "Milliseconds between the workload's fetch_adds" },
});

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "counter", "server.js");
/** How long the nodes get to shut down cleanly before they are killed. */
const SHUTDOWN_GRACE_MS = 10_000;

const ports = flags.ports.split(",").map((p) => Number(p.trim()));
const conf = ports.map((port) => `${flags.ip}:${port}:0`).join(",");
const say = (line: string): void => console.log(`[start] ${line}`);

/** Set once Ctrl-C or SIGTERM arrived. */
let stopping = false;
/** Set once the first fetch_add went through: from then on a node may die and come back. */
let clusterUp = false;
let exitedNodes = 0;
const members: Member[] = [];

interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  readonly args: readonly string[];
  readonly exited: Promise<number | string>;
}

/** Why `port` cannot be listened on at `ip` (e.g. EADDRINUSE), or undefined when it is free. */
function portProblem(ip: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    probe.listen({ host: ip, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/**
 * Stops with exit code 1 unless every port is free: a port in use is someone else's, maybe the
 * nodes of another `npm start` that our workload would otherwise drive. Suggests free ports.
 */
async function requireFreePorts(): Promise<void> {
  const problems = await Promise.all(ports.map((port) => portProblem(flags.ip, port)));
  const taken = ports.flatMap((port, i) => (problems[i] === undefined ? [] : [`${port} (${problems[i]})`]));
  if (taken.length === 0) return;
  const shifted = ports.map((port) => port + 1000);
  const shiftedFree = (await Promise.all(shifted.map((port) => portProblem(flags.ip, port)))).every(
    (problem) => problem === undefined,
  );
  const suggestion = shiftedFree ? shifted.join(",") : "<port>,<port>,<port>";
  console.error(
    `[start] cannot start: port ${taken.join(", ")} on ${flags.ip} is in use (another npm start, or another program). ` +
      `Nothing was started. Stop what listens there, or choose other ports: npm start -- --ports=${suggestion}`,
  );
  process.exit(1);
}

function startNode(port: number, index: number): Member {
  const name = `n${index + 1}:${port}`;
  const args = [
    relative(process.cwd(), SERVER),
    `--ip=${flags.ip}`,
    `--port=${port}`,
    `--conf=${conf}`,
    `--group=${flags.group}`,
    `--data_path=${join(flags.data_path, String(port))}`,
    `--election_timeout_ms=${flags.election_timeout_ms}`,
    `--snapshot_interval=${flags.snapshot_interval}`,
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on("line", (line) => console.log(`[${name}] ${line}`));
  }
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      if (!stopping) say(`${name} exited (${code ?? signal})`);
      if (!stopping && !clusterUp) {
        say(`${name} exited before the cluster came up; stopping the others`);
        for (const member of members) member.child.kill("SIGKILL");
        process.exit(1);
      }
      if (++exitedNodes === ports.length && !stopping) {
        say("every node has exited; giving up");
        process.exit(1);
      }
      resolve(code ?? signal ?? -1);
    }),
  );
  return { name, child, args, exited };
}

function printBanner(): void {
  const first = `${flags.ip}:${ports[0]}`;
  const client = "node dist/examples/counter/client.js";
  say(`group ${flags.group} on ${conf}, data under ${flags.data_path}/<port>`);
  for (const member of members) {
    say(`${member.name} pid ${member.child.pid ?? "?"}; restart it with: node ${member.args.join(" ")}`);
  }
  say(`dashboard: http://${first}/  (also /raft_stat, /metrics on every node's port)`);
  say("try, in another terminal:");
  say(`  npx tsraft get_leader --group=${flags.group} --conf=${conf}`);
  say(
    `  npx tsraft transfer_leader --group=${flags.group} --conf=${conf} --peer=${flags.ip}:${ports[1] ?? ports[0]}:0`,
  );
  say(`  npx tsraft snapshot --group=${flags.group} --peer=${first}:0`);
  say(`  ${client} --conf=${conf} --thread_num=8 --duration_s=10`);
  say("  kill -9 the leader's process (its pid is above), watch the others elect a new one, then restart it");
  say("Ctrl-C stops the cluster");
}

/** One fetch_add(1) through the leader, following up to 3 redirects; the value after it. */
async function addOne(client: CounterClient, request: Uint8Array, reply: CounterReply) {
  for (let hop = 0; hop < 3; hop++) {
    const endpoint = await client.leaderOrRefresh();
    if (endpoint === undefined) return undefined;
    try {
      await client.call(endpoint, "fetch_add", request, reply);
    } catch {
      client.forget(endpoint);
      return undefined;
    }
    if (reply.success) return { value: reply.value + 1, leader: endpoint };
    client.redirected(endpoint, reply.redirect);
    // Send the add again only if the server refused it before proposing: one that may still
    // commit is not resent, or the counter could move by two (docs/errors.md).
    if (!reply.refused) return undefined;
  }
  return undefined;
}

async function main(): Promise<void> {
  await requireFreePorts();
  members.push(...ports.map(startNode));
  printBanner();
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      say("stopping: SIGTERM to the nodes");
      wake();
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

  const client = new CounterClient(conf, flags.group, Math.max(1000, flags.interval_ms));
  const request = fetchAddRequest(1n);
  const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
  let waiting = false;
  while (!stopping) {
    const added = await addOne(client, request, reply);
    if (added !== undefined) {
      clusterUp = true;
      say(`counter=${added.value} (fetch_add +1 on leader ${added.leader})`);
      waiting = false;
    } else if (!waiting && !stopping) {
      say("no leader yet, retrying");
      waiting = true;
    }
    await Promise.race([sleep(flags.interval_ms), new Promise<void>((resolve) => (wake = resolve))]);
  }
  await stopped;
  client.close();

  for (const member of members) member.child.kill("SIGTERM");
  const killer = setTimeout(() => {
    for (const member of members) member.child.kill("SIGKILL");
  }, SHUTDOWN_GRACE_MS);
  const codes = await Promise.all(members.map((m) => m.exited));
  clearTimeout(killer);
  say(`nodes stopped (${members.map((m, i) => `${m.name}: ${codes[i]}`).join(", ")}); stopped cleanly`);
}

await main();
process.exit(0);
