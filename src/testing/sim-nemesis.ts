/**
 * The faults of a randomized simulation, one at a time at random gaps: network partitions and
 * one-way cuts, crashes and restarts, paused processes, snapshots, membership changes (with slow
 * snapshot installs when the run copies slowly), leadership transfers (also in the middle of a
 * membership change), and the operator calls that move leadership or timing at run time:
 * `vote(ms)` and `resetElectionTimeoutMs(ms)`, which may refuse (EINVAL, EPERM), as braft does.
 * Process faults hit every group of the process. With many groups, a fault aimed at "the leader"
 * hits the process leading the most groups, and a group-level operation (transfer, membership,
 * snapshot, vote, timeout) goes to a random group.
 */
import type { PeerKey } from "../core/types.js";
import type { RaftNode } from "../node/raft-node.js";
import type { Prng } from "./prng.js";
import type { SimCluster } from "./sim-cluster.js";
import type { SimGroup } from "./sim-group.js";

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
        return this.crash(cluster.busiestLeader());
      case "restart": {
        const crashed = cluster.peers.filter((peer) => !cluster.running().includes(peer));
        if (crashed.length === 0) return undefined;
        const peer = prng.pick(crashed);
        await cluster.start(peer);
        return `restart ${peer}`;
      }
      case "snapshot": {
        const peer = this.randomRunning();
        if (peer === undefined || cluster.options.snapshots === undefined) return undefined;
        const group = this.group();
        group
          .node(peer)
          .snapshot()
          .catch(() => undefined);
        return `${this.groupTag(group)}snapshot ${peer}`;
      }
      case "membership":
        return this.changeMembership(this.group());
      case "transfer":
        return this.transfer();
      case "transferDuringChange": {
        const group = this.group();
        const change = this.changeMembership(group);
        return change === undefined ? undefined : `${change}; ${this.transfer(group) ?? "no transfer"}`;
      }
      case "transferBehindCut":
        return this.transferBehindCut();
      case "pause":
      case "pauseLeader": {
        const peer = kind === "pause" ? this.randomRunning(true) : cluster.busiestLeader();
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

  /** The group a group-level operation goes to; no draw with one group, so single-group seeds replay. */
  private group(): SimGroup {
    const groups = this.cluster.groups;
    return groups.length === 1 ? (groups[0] as SimGroup) : this.prng.pick(groups);
  }

  /** How a log line names the group (nothing with one group). */
  private groupTag(group: SimGroup): string {
    return this.cluster.groups.length === 1 ? "" : `group ${group.groupId}: `;
  }

  /** The group's leader, if it can take calls now. */
  private reachableLeader(group: SimGroup): PeerKey | undefined {
    const leader = group.leader();
    return leader !== undefined && !this.cluster.paused(leader) ? leader : undefined;
  }

  private crash(peer: PeerKey | undefined): string | undefined {
    if (peer === undefined) return undefined;
    this.cluster.crash(peer);
    return `crash ${peer}`;
  }

  private transfer(group = this.group()): string | undefined {
    const { cluster, prng } = this;
    const leader = this.reachableLeader(group);
    if (leader === undefined) return undefined;
    const target = prng.chance(0.5) ? prng.pick(cluster.peers) : "0.0.0.0:0:0";
    settleQuietly(() => group.node(leader).transferLeadershipTo(target));
    return `${this.groupTag(group)}transfer ${leader} -> ${target}`;
  }

  /**
   * The transfer of issue 14's first scenario: the target's messages to the leader are cut, so
   * the old leader may not hear that the target won (the cut stays until a heal).
   */
  private transferBehindCut(): string | undefined {
    const { cluster, prng } = this;
    const group = this.group();
    const leader = this.reachableLeader(group);
    if (leader === undefined) return undefined;
    const target = prng.pick(cluster.peers.filter((peer) => peer !== leader));
    cluster.network.cutOneWay(target, leader);
    settleQuietly(() => group.node(leader).transferLeadershipTo(target));
    return `${this.groupTag(group)}cut ${target} -> ${leader}; transfer ${leader} -> ${target}`;
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
    const group = this.group();
    const followers = this.cluster.reachable().filter((peer) => !group.node(peer).isLeader());
    if (followers.length === 0) return undefined;
    const peer = this.prng.pick(followers);
    const ms = this.timeoutMs();
    const outcome = callQuietly(group.node(peer), (node) => node.vote(ms));
    return `${this.groupTag(group)}vote ${peer} ${ms} ms: ${outcome}`;
  }

  /** braft's reset_election_timeout_ms on any node, sometimes back to the cluster's value. */
  private resetTimeout(): string | undefined {
    const peer = this.randomRunning();
    if (peer === undefined) return undefined;
    const group = this.group();
    const ms = this.prng.chance(0.3) ? this.options.electionTimeoutMs : this.timeoutMs();
    const outcome = callQuietly(group.node(peer), (node) => node.resetElectionTimeoutMs(ms));
    return `${this.groupTag(group)}resetElectionTimeoutMs ${peer} ${ms} ms: ${outcome}`;
  }

  /** Removes a follower (keeping three voters) or adds back a running non-member, through the leader. */
  private changeMembership(group: SimGroup): string | undefined {
    const { cluster, prng } = this;
    const leader = this.reachableLeader(group);
    if (leader === undefined) return undefined;
    const status = group.node(leader).getStatus();
    const members = status.peers;
    const outsiders = cluster
      .running()
      .filter((peer) => !members.includes(peer) && !status.learners.includes(peer));
    const node = group.node(leader);
    const tag = this.groupTag(group);
    if (outsiders.length > 0 && (members.length <= 3 || prng.chance(0.5))) {
      const peer = prng.pick(outsiders);
      settleQuietly(() => node.addPeer(peer));
      return `${tag}add ${peer}`;
    }
    if (members.length > 3) {
      const peer = prng.pick(members.filter((p) => p !== leader));
      settleQuietly(() => node.removePeer(peer));
      return `${tag}remove ${peer}`;
    }
    return undefined;
  }

  async healAll(): Promise<void> {
    const { cluster } = this;
    cluster.network.heal();
    cluster.network.setOptions({ lossRate: 0, duplicateRate: 0 });
    for (const peer of cluster.peers) if (!cluster.running().includes(peer)) await cluster.start(peer);
    for (const group of cluster.groups)
      for (const peer of cluster.running()) {
        callQuietly(group.node(peer), (node) => node.resetElectionTimeoutMs(this.options.electionTimeoutMs));
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
