/**
 * Drives tsraft server processes (node-process.ts) from a test: start, SIGKILL, restart, and calls
 * to their test service over baidu_std. Waits poll with deadlines; nothing sleeps and hopes.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { Channel } from "../../src/rpc/channel.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { pollUntil } from "../support/poll.js";

/**
 * libuv threads for each server, as docs/storage.md advises for many groups per process: every
 * group writes and fsyncs its own log on the threadpool, and with Node's 4 threads the elections
 * after a process of the 10,000-group bench died waited for fsyncs behind each other (395-684
 * groups elected per second against 687-883 with 32; docs/benchmarks.md). An environment
 * value wins.
 */
const SERVER_THREADPOOL_SIZE = "32";

export { freePorts };

const script = join(process.cwd(), "dist", "test", "process", "node-process.js");

export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  return pollUntil(what, probe, { timeoutMs, intervalMs: 20, errorsMeanNotYet: true });
}

export interface Dump {
  readonly applied: string[];
  readonly leader: string;
  readonly state: string;
  readonly term: number;
  readonly peers: string[];
  readonly learners: string[];
  readonly lastSnapshotIndex: number;
}

/** Extra per-process options (node-process.ts flags). */
export interface ProcessOptions {
  /** The nodes' election timeout (node-process.ts `--election-ms`, 300 by default). */
  readonly electionMs?: number | undefined;
  /** More arguments for the process on `port`, e.g. `["--snapshot"]` or `["--disable-cli"]`. */
  readonly args?: ((port: number) => string[]) | undefined;
}

export type ApplyReply = { ok: true; index: number } | { ok: false; code: string; leaderId: string | null };

export class ProcessCluster {
  private readonly children = new Map<number, ChildProcess>();
  private readonly channels = new Map<number, Channel>();

  /** Codes of applies that failed for good (after following redirects). */
  readonly failures: string[] = [];

  constructor(
    readonly ports: readonly number[],
    readonly groups: readonly string[],
    private readonly dataDir: string,
    /** The initial voters (all ports by default); the others start outside the configuration. */
    private readonly voterPorts: readonly number[] = ports,
    private readonly options: ProcessOptions = {},
  ) {}

  get peers(): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}:0`);
  }

  async start(port: number): Promise<void> {
    const args = [
      script,
      "--port",
      String(port),
      "--peers",
      this.peers.join(","),
      "--groups",
      this.groups.join(","),
      "--voters",
      this.voterPorts.includes(port) ? this.voterPorts.map((p) => `127.0.0.1:${p}:0`).join(",") : "",
      "--data",
      join(this.dataDir, String(port)),
      ...(this.options.electionMs === undefined ? [] : ["--election-ms", String(this.options.electionMs)]),
      ...(this.options.args?.(port) ?? []),
    ];
    // Extra node flags for the servers, e.g. TSRAFT_CHILD_NODE_ARGS="--cpu-prof" to profile them.
    const nodeArgs = process.env.TSRAFT_CHILD_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? [];
    const child = spawn(process.execPath, [...nodeArgs, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? SERVER_THREADPOOL_SIZE },
    });
    this.children.set(port, child);
    await new Promise<void>((resolve, reject) => {
      let output = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("READY")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`node on ${port} exited with ${code} before READY`)));
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.start(port)));
  }

  /** kill -9, and wait until the process is gone. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    this.children.delete(port);
  }

  /** The OS pid of the process on `port`; throws if it is not running. */
  pidOf(port: number): number {
    const pid = this.children.get(port)?.pid;
    if (pid === undefined) throw new Error(`no process on port ${port}`);
    return pid;
  }

  /** SIGTERM every process (a clean exit, e.g. to write a CPU profile) and wait until they are gone. */
  async terminateAll(): Promise<void> {
    await Promise.all(
      [...this.children].map(async ([port, child]) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
        this.children.delete(port);
      }),
    );
  }

  running(): number[] {
    return [...this.children.keys()];
  }

  async call(port: number, method: string, body: string, timeoutMs = 3000): Promise<unknown> {
    let channel = this.channels.get(port);
    if (channel === undefined) {
      channel = new Channel(`127.0.0.1:${port}`, { reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 100 });
      this.channels.set(port, channel);
    }
    const result = await channel.call("tsraft.test.TestService", method, new TextEncoder().encode(body), {
      timeoutMs,
    });
    return JSON.parse(new TextDecoder().decode(result.message)) as unknown;
  }

  /** How many of the process's groups lead there, and how many are quiet. */
  summary(port: number): Promise<{ groups: number; leading: number; quiet: number }> {
    return this.call(port, "summary", "") as Promise<{ groups: number; leading: number; quiet: number }>;
  }

  dump(port: number, group: string): Promise<Dump> {
    return this.call(port, "dump", group) as Promise<Dump>;
  }

  /**
   * Applies through the group's leader, following redirects; undefined if nobody accepted it
   * (its last error code is recorded in `failures`).
   */
  async apply(group: string, value: string): Promise<number | undefined> {
    let target = this.running().find((port) => this.voterPorts.includes(port));
    let lastCode = "EHOSTUNREACH";
    for (let hop = 0; hop < 6 && target !== undefined; hop++) {
      const reply = (await this.call(target, "apply", `${group}\n${value}`).catch(() => undefined)) as
        ApplyReply | undefined;
      if (reply?.ok === true) return reply.index;
      if (reply?.ok === false) lastCode = reply.code;
      const leaderPort =
        reply?.ok === false && reply.leaderId !== null ? Number(reply.leaderId.split(":")[1]) : undefined;
      const running = this.running();
      target =
        leaderPort !== undefined && running.includes(leaderPort)
          ? leaderPort
          : running[(hop + 1) % running.length];
    }
    this.failures.push(lastCode);
    return undefined;
  }

  async stopAll(): Promise<void> {
    for (const channel of this.channels.values()) channel.close();
    await Promise.all(this.running().map((port) => this.kill(port)));
  }
}
