/**
 * Atomic example servers (examples/atomic/server.ts) as child processes: start, kill -9, restart,
 * SIGSTOP/SIGCONT, and their test-only admin service (status, membership, transfer). Peer traffic
 * optionally goes through a FaultProxy; clients dial the servers directly. Some ports may run
 * braft's own atomic_server instead (braft-atomic.ts): the same calls work on both kinds.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { Channel } from "../../src/rpc/channel.js";
import type { FaultProxy } from "../../src/testing/fault-proxy.js";
import { waitFor } from "../process/process-cluster.js";
import {
  braftAdmin,
  braftAtomicArgs,
  braftSnapshotValues,
  braftPeerId,
  braftStatus,
  connectMapOf,
  type AdminReply,
} from "./braft-atomic.js";

const script = join(process.cwd(), "dist", "examples", "atomic", "server.js");

export interface AtomicStatus {
  readonly state: string;
  readonly term: number;
  readonly leader: string;
  readonly peers: readonly string[];
  readonly committedIndex: number;
  readonly appliedIndex: number;
  /** The node's map, by id; undefined for braft's server, which does not show it. */
  readonly values: readonly [string, string][] | undefined;
  /** Gets this process answered since it started, by read path. */
  readonly reads: { readonly lease: number; readonly readIndex: number; readonly follower: number };
}

export interface AtomicClusterOptions {
  readonly electionTimeoutMs?: number | undefined;
  readonly snapshotIntervalS?: number | undefined;
  readonly proxy?: FaultProxy | undefined;
  /** Serve gets without ReadIndex (a deliberate bug, to check the checker). */
  readonly unsafeLocalReads?: boolean | undefined;
  /** Leader lease on (raft_enable_leader_lease), and gets on the leader served from it. */
  readonly leaseReads?: boolean | undefined;
  /** Followers answer gets through ReadIndex. */
  readonly followerReads?: boolean | undefined;
  /** Extra lines of server stderr are passed through when true. */
  readonly verbose?: boolean | undefined;
  /** Ports that run braft's atomic_server rather than tsraft's; needs `braft`. */
  readonly braftPorts?: readonly number[] | undefined;
  /** braft's atomic_server and the connect() shim that puts its peer traffic through the proxy. */
  readonly braft?: { readonly server: string; readonly connectShim: string } | undefined;
}

export type NodeKind = "braft" | "tsraft";

/** How long a braft server may take to serve /raft_stat: generous, the machine may be loaded. */
const BRAFT_START_MS = 30_000;

/** Polls with a deadline; shared with the other real-process tests. */
export { waitFor };

export class AtomicCluster {
  private readonly children = new Map<number, ChildProcess>();
  private readonly stopped = new Set<number>();
  private readonly channels = new Map<number, Channel>();

  constructor(
    readonly ports: readonly number[],
    private readonly dataDir: string,
    private readonly options: AtomicClusterOptions = {},
  ) {}

  get peers(): string[] {
    return this.ports.map((port) => `127.0.0.1:${port}:0`);
  }

  get conf(): string {
    return this.peers.join(",");
  }

  peerOf(port: number): string {
    return `127.0.0.1:${port}:0`;
  }

  /**
   * Where a server's stderr goes: the terminal with `verbose`, else `<data>/<name>.log` (appended
   * across restarts, kept with the data when a run fails), as braft's run_server.sh keeps std.log.
   */
  private logOf(name: string): "inherit" | number {
    if (this.options.verbose === true) return "inherit";
    return openSync(join(this.dataDir, `${name}.log`), "a");
  }

  kindOf(port: number): NodeKind {
    return this.options.braftPorts?.includes(port) === true ? "braft" : "tsraft";
  }

  /** Starts the server of `port` (its kind) on its data, resolving once it serves. */
  async start(port: number): Promise<void> {
    if (this.kindOf(port) === "braft") await this.startBraft(port);
    else await this.startTsraft(port);
  }

  /** braft's working directory for `port`: its data are in `./data` there, as run_server.sh lays them out. */
  braftDir(port: number): string {
    return join(this.dataDir, `braft-${port}`);
  }

  private async startBraft(port: number): Promise<void> {
    const braft = this.options.braft;
    if (braft === undefined) throw new Error(`port ${port} is braft's but no braft binary was given`);
    const cwd = this.braftDir(port);
    mkdirSync(cwd, { recursive: true });
    const args = braftAtomicArgs({
      port,
      conf: this.conf,
      electionTimeoutMs: this.options.electionTimeoutMs ?? 1000,
      snapshotIntervalS: this.options.snapshotIntervalS ?? 30,
      leaderLease: this.options.leaseReads === true,
    });
    const proxyMap = this.options.proxy?.addressMap(`127.0.0.1:${port}`);
    const env = {
      ...process.env,
      LD_PRELOAD: braft.connectShim,
      TSRAFT_CONNECT_MAP: connectMapOf(proxyMap ?? new Map()),
    };
    const log = this.logOf(`braft-${port}`);
    const child = spawn(braft.server, args, { cwd, env, stdio: ["ignore", "ignore", log] });
    if (typeof log === "number") closeSync(log);
    this.children.set(port, child);
    this.stopped.delete(port);
    await this.braftServing(port, child);
  }

  /**
   * Polls until the braft server on `port` shows its group on /raft_stat; fails at once when it
   * exits, or names itself by another address than the configuration's.
   */
  private async braftServing(port: number, child: ChildProcess): Promise<void> {
    const deadline = Date.now() + BRAFT_START_MS;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = join(this.dataDir, `braft-${port}.log`);
        throw new Error(
          `braft atomic_server on ${port} exited (${child.exitCode ?? child.signalCode}); see ${log}`,
        );
      }
      const peer = await braftPeerId(port).catch(() => undefined);
      if (peer !== undefined && peer !== this.peerOf(port)) {
        // This braft names itself by butil::my_ip() (it has no -ip flag).
        throw new Error(
          `braft atomic_server on ${port} names itself ${peer}, not ${this.peerOf(port)}: braft takes ` +
            "its address from the host name, which must resolve to 127.0.0.1 for this run",
        );
      }
      if (peer !== undefined) return;
      if (Date.now() > deadline)
        throw new Error(`braft atomic_server on ${port} did not serve within ${BRAFT_START_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async startTsraft(port: number): Promise<void> {
    const proxyMap = this.options.proxy?.addressMap(`127.0.0.1:${port}`);
    const args = [
      script,
      `--port=${port}`,
      `--conf=${this.conf}`,
      `--data_path=${join(this.dataDir, String(port))}`,
      `--election_timeout_ms=${this.options.electionTimeoutMs ?? 1000}`,
      `--snapshot_interval=${this.options.snapshotIntervalS ?? 30}`,
      "--admin",
    ];
    if (this.options.unsafeLocalReads === true) args.push("--unsafe_local_reads");
    if (this.options.leaseReads === true) args.push("--raft_enable_leader_lease", "--lease_reads");
    if (this.options.followerReads === true) args.push("--follower_reads");
    if (proxyMap !== undefined) {
      args.push(`--proxy_map=${[...proxyMap].map(([from, to]) => `${from}=${to}`).join(",")}`);
    }
    const log = this.logOf(`tsraft-${port}`);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", log] });
    if (typeof log === "number") closeSync(log);
    this.children.set(port, child);
    this.stopped.delete(port);
    await new Promise<void>((resolve, reject) => {
      let output = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("READY")) resolve();
      });
      child.once("exit", (code, signal) =>
        reject(new Error(`atomic server on ${port} exited (${code ?? signal}) before READY`)),
      );
    });
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ports.map((port) => this.start(port)));
  }

  /** kill -9, and wait until the process is gone. */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port);
    this.children.delete(port);
    this.stopped.delete(port);
    this.channels.get(port)?.close();
    this.channels.delete(port);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGSTOP: the process freezes with its sockets open. */
  pause(port: number): void {
    if (this.children.get(port)?.kill("SIGSTOP") === true) this.stopped.add(port);
  }

  resume(port: number): void {
    if (this.children.get(port)?.kill("SIGCONT") === true) this.stopped.delete(port);
  }

  /** Ports with a live, not stopped, process. */
  running(): number[] {
    return [...this.children.keys()].filter((port) => !this.stopped.has(port));
  }

  /** Ports with a process (stopped or not). */
  alive(): number[] {
    return [...this.children.keys()];
  }

  private channel(port: number): Channel {
    let channel = this.channels.get(port);
    if (channel === undefined) {
      channel = new Channel(`127.0.0.1:${port}`, { reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 100 });
      this.channels.set(port, channel);
    }
    return channel;
  }

  /**
   * A membership, transfer or snapshot call (`body`: the peer) on `port`, through tsraft's admin
   * service or braft's CliService.
   */
  async admin(port: number, method: string, body = "", timeoutMs = 3000): Promise<AdminReply> {
    if (this.kindOf(port) === "braft") return braftAdmin(this.channel(port), port, method, body, timeoutMs);
    return (await this.tsraftAdmin(port, method, body, timeoutMs)) as AdminReply;
  }

  private async tsraftAdmin(port: number, method: string, body: string, timeoutMs: number): Promise<unknown> {
    const result = await this.channel(port).call(
      "tsraft.test.AtomicAdmin",
      method,
      new TextEncoder().encode(body),
      { timeoutMs },
    );
    return JSON.parse(new TextDecoder().decode(result.message)) as unknown;
  }

  status(port: number, timeoutMs = 1000): Promise<AtomicStatus> {
    if (this.kindOf(port) === "braft") return braftStatus(port, timeoutMs);
    return this.tsraftAdmin(port, "status", "", timeoutMs) as Promise<AtomicStatus>;
  }

  /**
   * The map of every node: tsraft's from its status, braft's from a snapshot it takes now (at its
   * applied index, which must be `appliedIndex`, or the reading is refused).
   */
  async values(port: number, appliedIndex: number): Promise<readonly [string, string][]> {
    if (this.kindOf(port) === "tsraft") return (await this.status(port)).values ?? [];
    const reply = await this.admin(port, "snapshot", "", 10_000);
    if (!reply.ok) throw new Error(`snapshot on braft ${port}: ${reply.code}`);
    const { index, values } = braftSnapshotValues(this.braftDir(port));
    if (index !== appliedIndex) throw new Error(`braft ${port}: snapshot at ${index}, not ${appliedIndex}`);
    return values;
  }

  /** The port of a node that says it leads (among running ones), if any. */
  async leader(): Promise<number | undefined> {
    const statuses = await Promise.all(
      this.running().map((port) =>
        this.status(port).then(
          (s) => ({ port, s }),
          () => undefined,
        ),
      ),
    );
    let best: { port: number; term: number } | undefined;
    for (const entry of statuses) {
      if (entry?.s.state !== "LEADER") continue;
      if (best === undefined || entry.s.term > best.term) best = { port: entry.port, term: entry.s.term };
    }
    return best?.port;
  }

  /** One line per node: kind, state, term, leader, indexes, peers; for a failure's story. */
  async describe(): Promise<string> {
    const lines = await Promise.all(
      this.ports.map(async (port) => {
        const head = `${port} ${this.kindOf(port)}${this.stopped.has(port) ? " (stopped)" : ""}`;
        if (!this.children.has(port)) return `${head} down`;
        const s = await this.status(port).catch((error: unknown) => String(error));
        if (typeof s === "string") return `${head} ${s}`;
        return `${head} ${s.state} term=${s.term} leader=${s.leader} committed=${s.committedIndex} applied=${s.appliedIndex} peers=${s.peers.join(",")}`;
      }),
    );
    return lines.join("\n");
  }

  waitForLeader(timeoutMs = 20_000): Promise<number> {
    return waitFor("a leader", () => this.leader(), timeoutMs);
  }

  async stopAll(): Promise<void> {
    for (const port of [...this.stopped]) this.resume(port);
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    await Promise.all(this.alive().map((port) => this.kill(port)));
  }
}
