/**
 * Counter servers (dist/examples/counter/server.js) as child processes for the tests: start,
 * SIGKILL, SIGTERM, restart, their output lines, and calls to their CounterService. Waits poll
 * with deadlines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CounterClient, GET_REQUEST } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { pollUntil } from "../support/poll.js";

export const SERVER = join(process.cwd(), "dist", "examples", "counter", "server.js");
export const CLIENT = join(process.cwd(), "dist", "examples", "counter", "client.js");

/** Polls `probe` until it returns a value (errors count as "not yet"), or fails after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 25, errorsMeanNotYet: true });
}

/** Resolves with the child's exit code (or signal name) once it has exited. */
export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode ?? -1);
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
}

export class CounterCluster {
  /** Every output line of each port's processes, across restarts. */
  readonly lines = new Map<number, string[]>();
  private readonly children = new Map<number, ChildProcess>();
  readonly client: CounterClient;

  private constructor(
    readonly ports: readonly number[],
    private readonly dataDir: string,
    private readonly extraFlags: readonly string[],
  ) {
    this.client = new CounterClient(this.conf, "Counter", 2000);
  }

  static async create(dataDir: string, extraFlags: readonly string[] = []): Promise<CounterCluster> {
    return new CounterCluster(await freePorts(3), dataDir, extraFlags);
  }

  get conf(): string {
    return this.ports.map((port) => `127.0.0.1:${port}:0`).join(",");
  }

  dataPath(port: number): string {
    return join(this.dataDir, String(port));
  }

  /** Starts the server on `port` and waits until it serves. */
  async start(port: number): Promise<void> {
    const args = [
      SERVER,
      `--port=${port}`,
      `--conf=${this.conf}`,
      `--data_path=${this.dataPath(port)}`,
      "--election_timeout_ms=1000",
      ...this.extraFlags,
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.children.set(port, child);
    const lines = this.lines.get(port) ?? [];
    this.lines.set(port, lines);
    const from = lines.length;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on("line", (line) => lines.push(line));
    }
    await waitFor(`the server on ${port} to serve`, () =>
      child.exitCode !== null
        ? Promise.reject(new Error(`server on ${port} exited: ${lines.join("\n")}`))
        : lines.slice(from).some((l) => l.includes("Counter service is running"))
          ? true
          : undefined,
    );
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.start(port)));
  }

  /** kill -9, and wait until the process is gone. */
  async kill(port: number): Promise<void> {
    await this.signal(port, "SIGKILL");
  }

  /** SIGTERM (a clean shutdown); resolves with the exit code. */
  async stop(port: number): Promise<number | string> {
    return this.signal(port, "SIGTERM");
  }

  private async signal(port: number, signal: NodeJS.Signals): Promise<number | string> {
    const child = this.children.get(port);
    if (child === undefined) return -1;
    const code = exited(child);
    child.kill(signal);
    this.children.delete(port);
    return code;
  }

  running(): number[] {
    return [...this.children.keys()];
  }

  /** The port whose node answers `get` as leader. */
  leader(): Promise<number> {
    return waitFor("a leader", async () => {
      for (const port of this.running()) {
        if ((await this.get(port)).success) return port;
      }
      return undefined;
    });
  }

  /** One `get` on `port`. */
  get(port: number): Promise<CounterReply> {
    const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
    return this.client.call(`127.0.0.1:${port}`, "get", GET_REQUEST, reply);
  }

  /** The value, read from whichever node leads. */
  async value(): Promise<number> {
    return waitFor("the leader's value", async () => {
      for (const port of this.running()) {
        const reply = await this.get(port);
        if (reply.success) return reply.value;
      }
      return undefined;
    });
  }

  /** Waits for an output line of `port` matching `pattern`, among those after the first `from`. */
  line(port: number, pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<string> {
    return waitFor(
      `a line ${pattern} from ${port}`,
      () =>
        this.lines
          .get(port)
          ?.slice(from)
          .find((l) => pattern.test(l)),
      timeoutMs,
    );
  }

  async stopAll(): Promise<void> {
    this.client.close();
    await Promise.all(this.running().map((port) => this.kill(port)));
  }
}
