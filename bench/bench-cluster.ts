/**
 * A fresh 3-server counter cluster for the benchmark: braft's counter_server or tsraft's
 * examples/counter, each server in its own working directory (data under `./data`, its output in
 * `./out.log`), fsync on, laid out as braft's example/counter/run_server.sh lays it out, braft at
 * its best setting on a 2-core machine (`-bthread_concurrency=4`, see ../shared/braft/README.md).
 * Both run with election timeout 1000 ms and the examples' other defaults (snapshot every 30 s).
 * Status comes from each server's /raft_stat, which both serve alike.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../test/interop/braft-bin.js";
import { httpGet, parseRaftStat, startWithFreshPorts } from "../test/interop/processes.js";
import { canonicalPeerKey } from "../src/util/peer-text.js";
import { exited, spawnTracked, tailOf } from "./bench-children.js";
import { cpuSecondsOf, rssMiBOf } from "./proc-cpu.js";

/**
 * Which implementation serves the cluster: braft's counter_server, tsraft's counter example from
 * this tree, or from the built tree given as `baseTree` (`base`: the same points before a change,
 * in the same run), or the floor of a Node cluster from this tree (floor-server.ts: forwarding
 * and fsync, no raft).
 */
export type Side = "braft" | "floor" | "tsraft" | "base";

const GROUP = "Counter";
const ELECTION_TIMEOUT_MS = 1000;

/** One server of the cluster. */
export interface BenchServer {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
}

/** Options of a cluster beyond its side. */
export interface ClusterOptions {
  /** braft's raft_sync (true: fsync each log write). */
  readonly sync: boolean;
  /** The directory of braft's binaries. */
  readonly braftBin: string;
  /** A built tsraft tree (its `dist/`) whose counter example is the `base` side. */
  readonly baseTree?: string;
}

/** The script of each Node side, under the tree's `dist/`. */
const SCRIPT_OF: Record<Exclude<Side, "braft">, readonly string[]> = {
  tsraft: ["examples", "counter", "server.js"],
  base: ["examples", "counter", "server.js"],
  floor: ["bench", "floor-server.js"],
};

class PortClash extends Error {}

export class BenchCluster {
  private constructor(
    readonly side: Side,
    readonly servers: readonly BenchServer[],
    private readonly root: string,
  ) {}

  /** braft's `--conf`: `127.0.0.1:port:0,...`. */
  get conf(): string {
    return this.servers.map((s) => `127.0.0.1:${s.port}:0`).join(",");
  }

  /** Starts three servers on fresh ports and waits until one leads and the others follow it. */
  static start(side: Side, options: ClusterOptions): Promise<BenchCluster> {
    return startWithFreshPorts(
      3,
      async (ports) => {
        const root = mkdtempSync(join(tmpdir(), `tsraft-bench-${side}-`));
        const conf = ports.map((port) => `127.0.0.1:${port}:0`).join(",");
        const servers = ports.map((port) => startServer(side, port, conf, join(root, String(port)), options));
        const cluster = new BenchCluster(side, servers, root);
        try {
          await cluster.leader();
          return cluster;
        } catch (error) {
          await cluster.stop();
          throw error;
        }
      },
      (error) => error instanceof PortClash,
    );
  }

  /** The server every other server follows (waits for one; fails at once if a server exited). */
  async leader(timeoutMs = 30_000): Promise<BenchServer> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.failIfExited();
      const leader = await this.leaderNow().catch(() => undefined);
      if (leader !== undefined) return leader;
      if (performance.now() > deadline) throw new Error(`no ${this.side} leader after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The one LEADER, when both other servers name it their leader. */
  private async leaderNow(): Promise<BenchServer | undefined> {
    const stats = await Promise.all(this.servers.map((s) => this.stat(s)));
    const leaders = this.servers.filter((_, i) => stats[i]?.get("state") === "LEADER");
    const leader = leaders[0];
    if (leaders.length !== 1 || leader === undefined) return undefined;
    const key = `127.0.0.1:${leader.port}:0`;
    const followed = stats.every(
      (stat, i) => this.servers[i] === leader || canonicalPeerKey(stat?.get("leader") ?? "") === key,
    );
    return followed ? leader : undefined;
  }

  /** The leader's last committed index (one HTTP request). */
  async committedIndex(leader: BenchServer): Promise<number> {
    return Number((await this.stat(leader))?.get("last_committed_index") ?? NaN);
  }

  /** CPU seconds each server has used, in server order. */
  cpuSeconds(): number[] {
    return this.servers.map((s) => (s.child.pid === undefined ? 0 : cpuSecondsOf(s.child.pid)));
  }

  /** Resident memory of each server now, in MiB, in server order. */
  rssMiB(): number[] {
    return this.servers.map((s) => (s.child.pid === undefined ? 0 : rssMiBOf(s.child.pid)));
  }

  /** kill -9 of every server, then the directories go. */
  async stop(): Promise<void> {
    for (const server of this.servers) server.child.kill("SIGKILL");
    await Promise.all(this.servers.map((s) => exited(s.child)));
    rmSync(this.root, { recursive: true, force: true });
  }

  private async stat(server: BenchServer): Promise<ReadonlyMap<string, string> | undefined> {
    return parseRaftStat(await httpGet(server.port, "/raft_stat"), GROUP);
  }

  private failIfExited(): void {
    for (const server of this.servers) {
      if (server.child.exitCode === null && server.child.signalCode === null) continue;
      const output = tailOf(join(server.dir, "out.log"));
      const message = `${this.side} server on ${server.port} exited:\n${output}`;
      throw /EADDRINUSE|Address already in use|Fail to start Server|Fail to listen/i.test(output)
        ? new PortClash(message)
        : new Error(message);
    }
  }
}

function startServer(
  side: Side,
  port: number,
  conf: string,
  dir: string,
  options: ClusterOptions,
): BenchServer {
  mkdirSync(dir, { recursive: true });
  const common = [
    `--port=${port}`,
    `--conf=${conf}`,
    "--data_path=./data",
    `--election_timeout_ms=${ELECTION_TIMEOUT_MS}`,
    `--raft_sync=${options.sync}`,
  ];
  const tree = side === "base" ? options.baseTree : REPO_ROOT;
  if (tree === undefined) throw new Error("the base side needs a tsraft tree (--tsraft-base=DIR)");
  const [command, args] =
    side === "braft"
      ? [
          join(options.braftBin, "counter_server"),
          // braft's run_server.sh flags; bthread_concurrency at braft's best on 2 cores (README).
          [
            ...common,
            "--bthread_concurrency=4",
            "--crash_on_fatal_log=true",
            "--raft_max_segment_size=8388608",
          ],
        ]
      : [process.execPath, [join(tree, "dist", ...SCRIPT_OF[side]), ...common]];
  const child = spawnTracked(command, args, dir, join(dir, "out.log"));
  return { port, dir, child };
}
