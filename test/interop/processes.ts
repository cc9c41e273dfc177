/**
 * Child processes of the interop suite: braft's binaries and tsraft's example servers side by
 * side, each in its own working directory, their output kept for failure messages, every one killed
 * at the end. Waits poll with deadlines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { get } from "node:http";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

/** Polls `probe` until it returns a value (errors count as "not yet"); fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One child process and every line it printed. */
export class Child {
  readonly lines: string[] = [];
  readonly exit: Promise<number | string>;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    command: string,
    args: readonly string[],
    cwd: string,
  ) {
    this.child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on("line", (line) => this.lines.push(line));
    }
    this.exit = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
      this.child.once("error", (error) => {
        this.lines.push(`spawn failed: ${error.message}`);
        resolve(-1);
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** kill -9 (or another signal), resolving once the process is gone. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<number | string> {
    if (this.running) this.child.kill(signal);
    return this.exit;
  }

  /** The last lines, for a failure message. */
  tail(count = 15): string {
    return `--- ${this.name} ---\n${this.lines.slice(-count).join("\n")}`;
  }
}

/** Runs a command to its end (with a deadline) and returns its exit code and output. */
export async function run(
  name: string,
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 30_000,
): Promise<{ code: number | string; output: string }> {
  const child = new Child(name, command, args, cwd);
  const timer = setTimeout(() => void child.kill(), timeoutMs);
  const code = await child.exit;
  clearTimeout(timer);
  return { code, output: child.lines.join("\n") };
}

/** Whether 127.0.0.1:`port` can be bound right now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * `count` distinct ports that bind now, drawn at random below the kernel's ephemeral range
 * (32768+) so outgoing connections never take them. Another process may still bind one before
 * our server does: callers start servers with {@link startWithFreshPorts}, which retries.
 */
export async function pickPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.includes(port) && (await bindable(port))) ports.push(port);
  }
  return ports;
}

/** Attempts at starting a set of servers before giving up on port clashes. */
const PORT_ATTEMPTS_MAX = 4;

/**
 * Picks ports and calls `start` with them; when `start` fails because a port was taken meanwhile
 * (`isPortClash`), everything it started is torn down by `start` itself and it is tried again on
 * fresh ports.
 */
export async function startWithFreshPorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  isPortClash: (error: unknown) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await pickPorts(count));
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS_MAX || !isPortClash(error)) throw error;
    }
  }
}

/** GET http://127.0.0.1:`port``path` → body, failing on a non-200 status or after `timeoutMs`. */
export function httpGet(port: number, path: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: ${res.statusCode} ${body}`)),
      );
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${path} on ${port} timed out`)));
    req.on("error", reject);
  });
}

/** One group's section of a `/raft_stat` page (braft's and tsraft's print the same `key: value` lines). */
export type RaftStat = ReadonlyMap<string, string>;

/** Parses the section `[group]` of a /raft_stat page. */
export function parseRaftStat(page: string, group: string): RaftStat | undefined {
  const fields = new Map<string, string>();
  let inGroup = false;
  for (const line of page.split("\n")) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header !== null) {
      if (inGroup) break;
      inGroup = header[1] === group;
      continue;
    }
    const colon = line.indexOf(":");
    if (inGroup && colon > 0 && !fields.has(line.slice(0, colon).trim()))
      fields.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return inGroup ? fields : undefined;
}
