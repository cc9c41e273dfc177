/**
 * `npm run kv`: the kv example as three processes on loopback, each in its own directory under
 * `--data-dir` (n1, n2, n3). On the first run n1 bootstraps a one-node cluster and n2 and n3 join
 * it through its HTTP API; later runs restart the same three nodes from their data. Ports are
 * picked by the system unless `--ports` names them, so two runs never race for a port. It prints
 * each node's URL, PID and the command that restarts it, then some curl commands to try. Ctrl-C
 * stops the nodes. A node that dies is reported, not restarted: restart it with the printed
 * command.
 *
 *   npm run kv
 *   npm run kv -- --ports=8200,8201,8202 --data-dir=/tmp/kv
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    "data-dir": { type: "string", default: "./data/kv" },
    ports: { type: "string", default: "0,0,0" },
    ip: { type: "string", default: "127.0.0.1" },
    "election-timeout-ms": { type: "string", default: "1000" },
  },
});

const SERVER = join(dirname(fileURLToPath(import.meta.url)), "server.js");
/** How long a node gets to print `ready` (and, when joining, `joined`). */
const START_TIMEOUT_MS = 60_000;
/** How long the nodes get to shut down cleanly on Ctrl-C before they are killed. */
const SHUTDOWN_GRACE_MS = 10_000;

const say = (line: string): void => console.log(`[kv] ${line}`);

interface Member {
  readonly name: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Resolves with the node's URL once it printed `ready` (and `joined` when it joins). */
  readonly ready: Promise<string>;
  readonly exited: Promise<void>;
}

let stopping = false;
const members: Member[] = [];

function restartCommand(dataDir: string): string {
  return `node ${relative(process.cwd(), SERVER)} --data-dir=${dataDir}`;
}

function startMember(index: number, port: string, joinUrl: string | undefined): Member {
  const name = `n${index + 1}`;
  const dataDir = resolve(args["data-dir"], name);
  const fresh = !existsSync(join(dataDir, "node.json"));
  const flags = [`--data-dir=${dataDir}`, `--election-timeout-ms=${args["election-timeout-ms"]}`];
  if (fresh)
    flags.push(`--listen=${args.ip}:${port}`, joinUrl === undefined ? "--bootstrap" : `--join=${joinUrl}`);
  const child = spawn(process.execPath, [SERVER, ...flags], { stdio: ["ignore", "pipe", "pipe"] });
  const waitsToJoin = fresh && joinUrl !== undefined;
  let url: string | undefined;
  const ready = new Promise<string>((resolvePromise, reject) => {
    const onLine = (line: string): void => {
      console.log(`[${name}] ${line}`);
      url ??= /^ready (http:\/\/\S+)/.exec(line)?.[1];
      if (url !== undefined && (!waitsToJoin || line.startsWith("joined"))) resolvePromise(url);
    };
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", onLine);
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on("line", (line) =>
      console.log(`[${name}] ${line}`),
    );
    child.once("exit", () => reject(new Error(`${name} exited before it was ready`)));
    setTimeout(
      () => reject(new Error(`${name} was not ready within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    ).unref();
  });
  const exited = new Promise<void>((resolvePromise) =>
    child.once("exit", (code, signal) => {
      if (!stopping && url !== undefined)
        say(`${name} exited (${code ?? signal}); restart it: ${restartCommand(dataDir)}`);
      resolvePromise();
    }),
  );
  return { name, dataDir, child, ready, exited };
}

async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const member of members) member.child.kill("SIGTERM");
  const grace = setTimeout(
    () => members.forEach((member) => member.child.kill("SIGKILL")),
    SHUTDOWN_GRACE_MS,
  );
  await Promise.all(members.map((member) => member.exited));
  clearTimeout(grace);
  say(code === 0 ? "stopped cleanly" : "stopped");
  process.exit(code);
}

function printBanner(urls: readonly string[]): void {
  members.forEach((member, i) => {
    say(
      `${member.name} ${urls[i] ?? "?"} pid=${member.child.pid ?? "?"} restart: ${restartCommand(member.dataDir)}`,
    );
  });
  const first = urls[0] ?? "";
  say("cluster ready; try:");
  const tries: [string, string][] = [
    [`curl -L -X PUT -d world ${first}/kv/hello`, "a write (a follower answers 307 to the leader)"],
    [`curl ${urls[1] ?? first}/kv/hello`, "a linearizable read, on any node"],
    [`curl '${urls[2] ?? first}/kv/hello?stale=1'`, "this node's state, no round trip"],
    [`curl ${first}/members`, "who leads, who votes"],
    [`open ${first}/`, "the dashboard"],
  ];
  const width = Math.max(...tries.map(([command]) => command.length));
  for (const [command, what] of tries) say(`  ${command.padEnd(width)}  # ${what}`);
  say("Ctrl-C stops the nodes; run the same command again to restart them from their data.");
}

async function main(): Promise<void> {
  process.once("SIGINT", () => void stopAll(0));
  process.once("SIGTERM", () => void stopAll(0));
  const ports = args.ports.split(",").map((port) => port.trim());
  if (ports.length !== 3) throw new Error(`--ports takes three ports (0 = any free port), got ${args.ports}`);
  say(`data under ${resolve(args["data-dir"])}`);
  const first = startMember(0, ports[0] ?? "0", undefined);
  members.push(first);
  const firstUrl = await first.ready;
  members.push(startMember(1, ports[1] ?? "0", firstUrl), startMember(2, ports[2] ?? "0", firstUrl));
  printBanner(await Promise.all(members.map((member) => member.ready)));
}

main().catch((error: unknown) => {
  say(`failed: ${error instanceof Error ? error.message : String(error)} (its output is above)`);
  say("if a port was taken, choose others: --ports=a,b,c (0 = any free port, the default)");
  void stopAll(1);
});
