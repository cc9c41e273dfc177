/**
 * The faults of a randomized simulation, one at a time at random gaps: network partitions and
 * one-way cuts, crashes and restarts, paused processes, snapshots, membership changes (with slow
 * snapshot installs when the run copies slowly), leadership transfers (also in the middle of a
 * membership change), and the operator calls that move leadership or timing at run time:
 * `vote(ms)` and `resetElectionTimeoutMs(ms)`, which may refuse (EINVAL, EPERM), as braft does.
 */
import type { PeerKey } from "../core/types.js";
import type { RaftNode } from "../node/raft-node.js";
import type { Prng } from "./prng.js";
import type { SimCluster } from "./sim-cluster.js";

export interface NemesisOptions {
  /** The cluster's election timeout and clock-drift allowance (what the timing nemeses vary around). */
  readonly electionTimeoutMs: number;
  readonly maxClockDriftMs: number;
  /** Kinds never drawn (to tell which nemesis a finding needs). */
  readonly without?: ReadonlySet<string> | undefined;
}

/** Every kind of fault, as `--without` names them. */
export const NEMESIS_KINDS = [
  "partition",
  "oneWay",
  "heal",
  "crash",
  "crashLeader",
  "restart",
  "restart",
  "snapshot",
  "membership",
  "transfer",
  "transferDuringChange",
  "transferBehindCut",
  "pause",
  "pauseLeader",
  "vote",
  "resetTimeout",
  "quiet",
] as const;

/** Picks and applies one random fault at a time. */
export class Nemesis {
  count = 0;
  /** How often each kind was drawn. */
  readonly drawn = new Map<string, number>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly options: NemesisOptions,
    private readonly log: (line: string) => void,
  ) {}

  nextGapMs(): number {
    return this.prng.int(50, 1000);
  }

  async injectOne(): Promise<void> {
    this.count++;
    const kind = this.prng.pick(NEMESIS_KINDS);
    this.drawn.set(kind, (this.drawn.get(kind) ?? 0) + 1);
    const at = `t=${this.cluster.scheduler.nowMs.toFixed(0)}`;
    if (this.options.without?.has(kind) === true) return; // drawn all the same: seeds stay comparable
    const line = await this.inject(kind);
    if (line !== undefined) this.log(`${at} ${line}`);
  }

  private async inject(kind: (typeof NEMESIS_KINDS)[number]): Promise<string | undefined> {
    const { cluster, prng } = this;
    switch (kind) {
      case "partition": {
        const shuffled = [...cluster.peers].sort(() => prng.next() - 0.5);
        const cut = prng.int(1, shuffled.length - 1);
        cluster.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        return `partition ${shuffled.slice(0, cut).join(" ")} | ${shuffled.slice(cut).join(" ")}`;
      }
      case "oneWay": {
        const from = prng.pick(cluster.peers);
        const to = prng.pick(cluster.peers.filter((peer) => peer !== from));
        cluster.network.cutOneWay(from, to);
        return `cut ${from} -> ${to}`;
      }
      case "heal":
        cluster.network.heal();
        return "heal";
      case "crash":
        return this.crash(this.randomRunning(true));
      case "crashLeader":
        return this.crash(cluster.leader());
      case "restart": {
        const crashed = cluster.peers.filter((peer) => cluster.process(peer).node === undefined);
        if (crashed.length === 0) return undefined;
        const peer = prng.pick(crashed);
        await cluster.start(peer);
        return `restart ${peer}`;
      }
      case "snapshot": {
        const peer = this.randomRunning();
        if (peer === undefined || cluster.options.snapshots === undefined) return undefined;
        cluster
          .node(peer)
          .snapshot()
          .catch(() => undefined);
        return `snapshot ${peer}`;
      }
      case "membership":
        return this.changeMembership();
      case "transfer":
        return this.transfer();
      case "transferDuringChange": {
        const change = this.changeMembership();
        return change === undefined ? undefined : `${change}; ${this.transfer() ?? "no transfer"}`;
      }
      case "transferBehindCut":
        return this.transferBehindCut();
      case "pause":
      case "pauseLeader": {
        const peer = kind === "pause" ? this.randomRunning(true) : cluster.leader();
        if (peer === undefined) return undefined;
        const ms = prng.int(10, 3 * this.options.electionTimeoutMs);
        cluster.pause(peer, ms);
        return `pause ${peer} for ${ms} ms`;
      }
      case "vote":
        return this.vote();
      case "resetTimeout":
        return this.resetTimeout();
      case "quiet":
        return undefined;
    }
  }

  /**
   * A running process to act on; only one that is not paused unless `evenPaused` (a paused
   * process takes no calls, but it can crash or pause longer).
   */
  private randomRunning(evenPaused = false): PeerKey | undefined {
    const candidates = evenPaused ? this.cluster.running() : this.cluster.reachable();
    return candidates.length === 0 ? undefined : this.prng.pick(candidates);
  }

  /** The leader, if it can take calls now. */
  private reachableLeader(): PeerKey | undefined {
    const leader = this.cluster.leader();
    return leader !== undefined && !this.cluster.paused(leader) ? leader : undefined;
  }

  private crash(peer: PeerKey | undefined): string | undefined {
    if (peer === undefined) return undefined;
    this.cluster.crash(peer);
    return `crash ${peer}`;
  }

  private transfer(): string | undefined {
    const { cluster, prng } = this;
    const leader = this.reachableLeader();
    if (leader === undefined) return undefined;
    const target = prng.chance(0.5) ? prng.pick(cluster.peers) : "0.0.0.0:0:0";
    settleQuietly(() => cluster.node(leader).transferLeadershipTo(target));
    return `transfer ${leader} -> ${target}`;
  }

  /**
   * The transfer of issue 14's first scenario: the target's messages to the leader are cut, so
   * the old leader may not hear that the target won (the cut stays until a heal).
   */
  private transferBehindCut(): string | undefined {
    const { cluster, prng } = this;
    const leader = this.reachableLeader();
    if (leader === undefined) return undefined;
    const target = prng.pick(cluster.peers.filter((peer) => peer !== leader));
    cluster.network.cutOneWay(target, leader);
    settleQuietly(() => cluster.node(leader).transferLeadershipTo(target));
    return `cut ${target} -> ${leader}; transfer ${leader} -> ${target}`;
  }

  /**
   * An election timeout for the timing nemeses: mostly within what keeps the lease safe (from a
   * quarter of the cluster's timeout up to the timeout plus half the drift allowance, see
   * maxSafeClockRate), sometimes above timeout + drift, which a node must refuse with EINVAL.
   */
  private timeoutMs(): number {
    const { electionTimeoutMs: timeout, maxClockDriftMs: drift } = this.options;
    if (this.prng.chance(0.2)) return timeout + drift + this.prng.int(1, 2 * timeout);
    return this.prng.int(Math.max(50, Math.floor(timeout / 4)), timeout + Math.floor(drift / 2));
  }

  /** braft's vote(ms) on a follower: moves leadership to it from its side. */
  private vote(): string | undefined {
    const followers = this.cluster.reachable().filter((peer) => !this.cluster.node(peer).isLeader());
    if (followers.length === 0) return undefined;
    const peer = this.prng.pick(followers);
    const ms = this.timeoutMs();
    const outcome = callQuietly(this.cluster.node(peer), (node) => node.vote(ms));
    return `vote ${peer} ${ms} ms: ${outcome}`;
  }

  /** braft's reset_election_timeout_ms on any node, sometimes back to the cluster's value. */
  private resetTimeout(): string | undefined {
    const peer = this.randomRunning();
    if (peer === undefined) return undefined;
    const ms = this.prng.chance(0.3) ? this.options.electionTimeoutMs : this.timeoutMs();
    const outcome = callQuietly(this.cluster.node(peer), (node) => node.resetElectionTimeoutMs(ms));
    return `resetElectionTimeoutMs ${peer} ${ms} ms: ${outcome}`;
  }

  /** Removes a follower (keeping three voters) or adds back a running non-member, through the leader. */
  private changeMembership(): string | undefined {
    const { cluster, prng } = this;
    const leader = this.reachableLeader();
    if (leader === undefined) return undefined;
    const status = cluster.node(leader).getStatus();
    const members = status.peers;
    const outsiders = cluster
      .running()
      .filter((peer) => !members.includes(peer) && !status.learners.includes(peer));
    const node = cluster.node(leader);
    if (outsiders.length > 0 && (members.length <= 3 || prng.chance(0.5))) {
      const peer = prng.pick(outsiders);
      settleQuietly(() => node.addPeer(peer));
      return `add ${peer}`;
    }
    if (members.length > 3) {
      const peer = prng.pick(members.filter((p) => p !== leader));
      settleQuietly(() => node.removePeer(peer));
      return `remove ${peer}`;
    }
    return undefined;
  }

  async healAll(): Promise<void> {
    const { cluster } = this;
    cluster.network.heal();
    cluster.network.setOptions({ lossRate: 0, duplicateRate: 0 });
    for (const peer of cluster.peers) if (cluster.process(peer).node === undefined) await cluster.start(peer);
    for (const peer of cluster.running()) {
      callQuietly(cluster.node(peer), (node) => node.resetElectionTimeoutMs(this.options.electionTimeoutMs));
    }
    this.log(`t=${cluster.scheduler.nowMs.toFixed(0)} healed everything`);
  }
}

/** Starts an async operation whose outcome the nemesis does not care about. */
function settleQuietly(start: () => Promise<unknown>): void {
  try {
    start().catch(() => undefined);
  } catch {
    // An API that throws synchronously refused at once.
  }
}

/** Calls an operator API that may throw or reject (braft's EINVAL/EPERM); describes the outcome. */
function callQuietly(node: RaftNode, call: (node: RaftNode) => unknown): string {
  try {
    const result = call(node);
    if (result instanceof Promise) result.catch(() => undefined);
    return "called";
  } catch (error) {
    return `refused (${(error as { code?: string }).code ?? String(error)})`;
  }
}
