/**
 * A group of braft's example servers and tsraft's (examples/counter or examples/atomic) on
 * loopback, each node in its own temporary working directory with its data under `./data`, as
 * braft's example run_server.sh scripts lay them out (fsync on). Status comes from each node's
 * `/raft_stat`; peers there compare by canonical form, since braft prints `ip:port:idx:role`.
 * Spare nodes start with an empty configuration, waiting to be added; the cluster's `members` are
 * the nodes the scenario expects in the group's configuration, and only they must follow the
 * leader and converge.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalPeerKey } from "../../src/util/peer-text.js";
import { braftBinary, REPO_ROOT } from "./braft-bin.js";
import {
  Child,
  httpGet,
  parseRaftStat,
  run,
  startWithFreshPorts,
  waitFor,
  type RaftStat,
} from "./processes.js";

export type NodeKind = "braft" | "tsraft";

/** Which of braft's examples (and tsraft's wire-compatible twin) the group runs. */
export type Example = "counter" | "atomic";

/** The group braft's counter example serves. */
export const GROUP = "Counter";

/** The group each example serves by default. */
const GROUP_OF: Readonly<Record<Example, string>> = { counter: GROUP, atomic: "Atomic" };

const TSRAFT_SERVER: Readonly<Record<Example, string>> = {
  counter: join(REPO_ROOT, "dist", "examples", "counter", "server.js"),
  atomic: join(REPO_ROOT, "dist", "examples", "atomic", "server.js"),
};

const BRAFT_SERVER = { counter: "counter_server", atomic: "atomic_server" } as const;

/**
 * A counter node's applied-task line, the same in braft's and tsraft's counter (both run with
 * `--log_applied_task`): the value before the entry, its delta and its index.
 */
const APPLIED_TASK = /Added value=(-?\d+) by detal=(-?\d+) at log_index=(\d+)/;

/** The counter's state after the last data entry a node applied. */
export interface CounterState {
  readonly index: number;
  readonly value: bigint;
}

/** One member of the group. */
export interface InteropNode {
  /** Which server runs on this port and data directory; a restart may swap it. */
  kind: NodeKind;
  readonly port: number;
  /** Its working directory; its data are in `<dir>/data`. */
  readonly dir: string;
  /** `127.0.0.1:port:0` (`:1` appended for a witness), the canonical PeerId. */
  readonly peer: string;
  /** Started with an empty configuration, to be added to the group later. */
  readonly spare: boolean;
  child: Child | undefined;
}

/** Flags given to both kinds of server, and flags for braft's alone. */
export interface TimingOptions {
  readonly electionTimeoutMs: number;
  readonly snapshotIntervalS: number;
  /** Appended to braft's flags (a later flag wins), e.g. a small `--raft_max_segment_size`. */
  readonly braftFlags?: readonly string[];
  /** Appended to tsraft's flags, e.g. `--snapshot_key` (the counter's encrypted snapshots). */
  readonly tsraftFlags?: readonly string[];
  /** The example both kinds serve; counter by default. */
  readonly example?: Example;
  /** braft's `-raft_enable_leader_lease=true` and tsraft's `--raft_enable_leader_lease`. */
  readonly leaderLease?: boolean;
  /** Nodes started with an empty configuration, after the group's members. */
  readonly spares?: readonly NodeKind[];
  /**
   * The tsraft members run as witnesses (`--witness`, PeerId `ip:port:0:1` in every node's
   * configuration). braft's example servers have no witness option, so only tsraft nodes can.
   */
  readonly tsraftWitnesses?: boolean;
}

/** A server did not come up because its port was taken between picking and binding it. */
class PortClash extends Error {}

export class MixedCluster {
  /** The nodes the group's configuration holds (as the scenario last changed it). */
  private memberSet: Set<InteropNode>;

  private constructor(
    readonly nodes: readonly InteropNode[],
    private readonly root: string,
    private readonly timing: TimingOptions,
  ) {
    this.memberSet = new Set(nodes.filter((node) => !node.spare));
  }

  /** The example's group id. */
  get group(): string {
    return GROUP_OF[this.example];
  }

  get example(): Example {
    return this.timing.example ?? "counter";
  }

  /** The nodes the configuration holds, in start order. */
  get members(): InteropNode[] {
    return this.nodes.filter((node) => this.memberSet.has(node));
  }

  /** Records the configuration a membership change is expected to leave. */
  setMembers(nodes: readonly InteropNode[]): void {
    this.memberSet = new Set(nodes);
  }

  /** The spare nodes (started with an empty configuration). */
  get spares(): InteropNode[] {
    return this.nodes.filter((node) => node.spare);
  }

  /** Starts a group of the given kinds (retrying on fresh ports if one was taken) and waits for a leader. */
  static async start(kinds: readonly NodeKind[], timing: TimingOptions): Promise<MixedCluster> {
    const all = [...kinds, ...(timing.spares ?? [])];
    return startWithFreshPorts(
      all.length,
      async (ports) => {
        const root = await mkdtemp(join(tmpdir(), "tsraft-interop-"));
        const nodes = all.map((kind, i) => {
          const port = ports[i] as number;
          return {
            kind,
            port,
            dir: join(root, `${kind}-${port}`),
            peer: `127.0.0.1:${port}:0${kind === "tsraft" && timing.tsraftWitnesses === true ? ":1" : ""}`,
            spare: i >= kinds.length,
            child: undefined,
          };
        });
        const cluster = new MixedCluster(nodes, root, timing);
        try {
          await Promise.all(nodes.map((node) => cluster.startNode(node)));
          await cluster.leader();
          return cluster;
        } catch (error) {
          await cluster.stopAll();
          throw error;
        }
      },
      (error) => error instanceof PortClash,
    );
  }

  /** braft's `--conf`: every member, `ip:port:idx`. */
  get conf(): string {
    return this.members.map((node) => node.peer).join(",");
  }

  of(kind: NodeKind): InteropNode[] {
    return this.nodes.filter((node) => node.kind === kind);
  }

  /**
   * Starts `node` on its port and data directory, as `kind` (by default the kind it was): braft
   * and tsraft lay out `./data` alike, so either reads what the other wrote. Resolves once its
   * /raft_stat shows the group.
   */
  async startNode(node: InteropNode, kind: NodeKind = node.kind): Promise<void> {
    node.kind = kind;
    const { command, args } = this.commandOf(node);
    await mkdir(node.dir, { recursive: true });
    const child = new Child(`${node.kind} ${node.peer}`, command, args, node.dir);
    node.child = child;
    await waitFor(`${node.kind} ${node.peer} to serve /raft_stat`, async () => {
      if (!child.running) {
        const output = child.lines.join("\n");
        if (/EADDRINUSE|Address already in use|Fail to start Server|Fail to listen/i.test(output))
          throw new PortClash(`port ${node.port} taken: ${child.tail()}`);
        throw new Error(`${node.kind} ${node.peer} exited: ${child.tail()}`);
      }
      const stat = await this.stat(node);
      return stat !== undefined && canonicalPeerKey(stat.get("peer_id") ?? "") === node.peer
        ? true
        : undefined;
    }).catch((error: unknown) => {
      if (error instanceof PortClash) throw error;
      if (!child.running && /EADDRINUSE|Address already in use/i.test(child.lines.join("\n")))
        throw new PortClash(String(error));
      throw error;
    });
  }

  private commandOf(node: InteropNode): { command: string; args: string[] } {
    const { electionTimeoutMs, snapshotIntervalS } = this.timing;
    const lease = this.timing.leaderLease === true;
    const common = [
      `--port=${node.port}`,
      `--conf=${node.spare ? "" : this.conf}`,
      "--data_path=./data",
      `--election_timeout_ms=${electionTimeoutMs}`,
      `--snapshot_interval=${snapshotIntervalS}`,
    ];
    // Both counters print each applied task, which counterState() reads back.
    const counter = this.example === "counter" ? ["--log_applied_task=true"] : [];
    if (node.kind === "tsraft") {
      // tsraft's atomic server fsyncs by default (braft's raft_sync default) and takes bare booleans.
      const witness = this.timing.tsraftWitnesses === true ? ["--witness=true"] : [];
      const own =
        this.example === "counter"
          ? [
              "--raft_sync=true",
              ...counter,
              ...(lease ? ["--raft_enable_leader_lease=true"] : []),
              ...witness,
            ]
          : ["--admin", ...(lease ? ["--raft_enable_leader_lease"] : [])];
      const extra = this.timing.tsraftFlags ?? [];
      return { command: process.execPath, args: [TSRAFT_SERVER[this.example], ...common, ...own, ...extra] };
    }
    // braft's run_server.sh flags; bthread_concurrency as its README advises on a 2-core machine.
    const braftFlags = [
      "--raft_sync=true",
      "--bthread_concurrency=4",
      "--crash_on_fatal_log=true",
      "--raft_max_segment_size=8388608",
      ...counter,
      ...(lease ? ["--raft_enable_leader_lease=true"] : []),
    ];
    const extra = this.timing.braftFlags ?? [];
    return {
      command: braftBinary(BRAFT_SERVER[this.example]),
      args: [...common, ...braftFlags, ...extra],
    };
  }

  /** kill -9 of `node`. */
  async kill(node: InteropNode): Promise<void> {
    await node.child?.kill();
    node.child = undefined;
  }

  /** Removes `node`'s data directory (it must be stopped). */
  async wipe(node: InteropNode): Promise<void> {
    if (node.child?.running === true) throw new Error(`wipe of running ${node.peer}`);
    await rm(join(node.dir, "data"), { recursive: true, force: true });
  }

  /** The running members: the nodes that must follow the leader and converge. */
  running(): InteropNode[] {
    return this.members.filter((node) => node.child?.running === true);
  }

  /** The group's section of `node`'s /raft_stat, or undefined when it has none (yet). */
  async stat(node: InteropNode): Promise<RaftStat | undefined> {
    return parseRaftStat(await httpGet(node.port, "/raft_stat"), this.group);
  }

  /** The one running node that reports LEADER while every other running node follows it. */
  leader(timeoutMs = 30_000): Promise<InteropNode> {
    return waitFor(
      "one leader that every running node follows",
      async () => {
        const stats = await Promise.all(
          this.running().map(async (node) => ({ node, stat: await this.stat(node) })),
        );
        const leaders = stats.filter(({ stat }) => stat?.get("state") === "LEADER");
        const leader = leaders[0];
        if (leaders.length !== 1 || leader === undefined) return undefined;
        const followsIt = stats.every(
          ({ node, stat }) =>
            node === leader.node ||
            (stat?.get("leader") !== undefined && canonicalPeerKey(stat.get("leader")!) === leader.node.peer),
        );
        return followsIt ? leader.node : undefined;
      },
      timeoutMs,
    );
  }

  /**
   * Waits until every running node has committed and applied the same index, at least `atLeast`,
   * and returns it.
   */
  converged(atLeast = 0, timeoutMs = 30_000): Promise<number> {
    return waitFor(
      `every node to commit and apply the same index >= ${atLeast}`,
      async () => {
        const stats = await Promise.all(this.running().map((node) => this.stat(node)));
        const committed = stats.map((stat) => Number(stat?.get("last_committed_index") ?? NaN));
        const applied = stats.map((stat) => Number(stat?.get("known_applied_index") ?? NaN));
        const first = committed[0] ?? NaN;
        const same = committed.every((c) => c === first) && applied.every((a) => a === first);
        return same && first >= atLeast ? first : undefined;
      },
      timeoutMs,
    );
  }

  /** The canonical peers `node`'s /raft_stat lists, sorted. */
  async peersOf(node: InteropNode): Promise<string[]> {
    const peers = (await this.stat(node))?.get("peers") ?? "";
    return peers
      .split(/\s+/)
      .filter((peer) => peer !== "")
      .map(canonicalPeerKey)
      .sort();
  }

  /**
   * A counter node's state after the last data entry it applied, read from its applied-task
   * lines (undefined before it applied one in this run of the process).
   */
  counterState(node: InteropNode): CounterState | undefined {
    const lines = node.child?.lines ?? [];
    for (let i = lines.length - 1; i >= 0; i--) {
      const match = APPLIED_TASK.exec(lines[i] ?? "");
      if (match !== null)
        return { index: Number(match[3]), value: BigInt(match[1] ?? 0) + BigInt(match[2] ?? 0) };
    }
    return undefined;
  }

  /**
   * {@link converged}, and then every running member's counter shows the same value after the
   * same last data entry: the same committed index and the same state everywhere.
   */
  async convergedState(atLeast = 0, timeoutMs = 30_000): Promise<CounterState & { committed: number }> {
    const committed = await this.converged(atLeast, timeoutMs);
    const state = await waitFor(
      `every node's counter to show one value after the same entry (committed ${committed})`,
      () => {
        const states = this.running().map((node) => this.counterState(node));
        const first = states[0];
        const same = states.every(
          (s) => s !== undefined && s.index === first?.index && s.value === first.value,
        );
        return same ? first : undefined;
      },
      timeoutMs,
    ).catch(async (error: unknown) => {
      const states = this.running().map(
        (node) =>
          `${node.peer}: ${JSON.stringify(this.counterState(node), (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`,
      );
      throw new Error(`${String(error)}\n${states.join("\n")}\n${await this.describe()}`);
    });
    return { ...state, committed };
  }

  /** The committed index of each running node, for messages. */
  async describe(): Promise<string> {
    const parts = await Promise.all(
      this.nodes.map(async (node) => {
        if (node.child?.running !== true) return `${node.kind} ${node.peer} down`;
        const stat = await this.stat(node).catch(() => undefined);
        return `${node.kind} ${node.peer} ${stat?.get("state")} term=${stat?.get("term")} committed=${stat?.get("last_committed_index")} applied=${stat?.get("known_applied_index")} peers=${stat?.get("peers")}`;
      }),
    );
    return parts.join("; ");
  }

  /** The last output lines of every node, for a failure message. */
  tails(): string {
    return this.nodes.map((node) => node.child?.tail() ?? `--- ${node.peer}: not running`).join("\n");
  }

  /** Runs `braft_cli <command> --group=<group> ...args`, resolving with its output; rejects when it fails. */
  async braftCli(command: string, args: readonly string[]): Promise<string> {
    const { code, output } = await run(
      "braft_cli",
      braftBinary("braft_cli"),
      [command, `--group=${this.group}`, ...args],
      this.root,
    );
    if (code !== 0) throw new Error(`braft_cli ${command} ${args.join(" ")} exited ${code}: ${output}`);
    return output;
  }

  /** kill -9 of every node, then the temporary directories go. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node)));
    await rm(this.root, { recursive: true, force: true });
  }
}
