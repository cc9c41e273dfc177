/**
 * One randomized simulation run: a cluster of 3-7 real nodes under a random workload and random
 * faults (partitions, one-way cuts, message loss and duplication, crashes and restarts), checked
 * continuously for safety, then healed and required to converge (liveness). Everything derives
 * from the seed, so a failing run replays exactly.
 */
import type { PeerKey } from "../core/types.js";
import { Prng } from "./prng.js";
import { SimCluster } from "./sim-cluster.js";

export interface SimRunOptions {
  readonly seed: number;
  /** Cluster size; drawn from 3..7 by the seed when absent. */
  readonly nodes?: number | undefined;
  /** Virtual time under faults before healing. */
  readonly durationMs?: number | undefined;
  readonly clients?: number | undefined;
  /** After healing, the cluster must converge within this much virtual time. */
  readonly convergeWithinMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface SimRunResult {
  readonly seed: number;
  readonly nodes: number;
  readonly violations: readonly string[];
  readonly appliedEntries: number;
  readonly acknowledged: number;
  readonly faults: number;
  readonly virtualMs: number;
}

const SAFETY_CHECK_INTERVAL_MS = 1000;

export async function runSimulation(options: SimRunOptions): Promise<SimRunResult> {
  const setup = new Prng(options.seed, "setup");
  const nodes = options.nodes ?? setup.int(3, 7);
  const cluster = new SimCluster({
    seed: options.seed,
    nodes,
    network: {
      minDelayMs: 1,
      maxDelayMs: setup.int(2, 30),
      lossRate: setup.pick([0, 0.01, 0.05]),
      duplicateRate: setup.pick([0, 0.01, 0.05]),
    },
    disk: { minLatencyMs: 0.1, maxLatencyMs: setup.between(0.5, 10) },
    // Small batches and windows open the interleavings that large ones hide (a prior-term entry
    // reaching a quorum without the new leader's entry behind it, as in Raft's figure 8).
    flags: {
      raft_max_entries_size: setup.pick([1, 2, 8, 1024]),
      raft_max_parallel_append_entries_rpc_num: setup.pick([1, 2, 8]),
    },
    // Half the runs take snapshots and compact their logs, so lagging and restarted nodes catch
    // up by snapshot install; margin 0 compacts right up to the snapshot.
    snapshots: setup.chance(0.5)
      ? { intervalS: setup.pick([1, 2, 5]), logMarginEntries: setup.pick([0, 5, 50]) }
      : undefined,
  });
  const log = options.log ?? (() => undefined);
  const faults = new FaultInjector(cluster, new Prng(options.seed, "faults"), log);
  await cluster.startAll();
  const workload = new Workload(cluster, new Prng(options.seed, "workload"), options.clients ?? 3);
  workload.start();
  const durationMs = options.durationMs ?? 20_000;
  const end = cluster.scheduler.nowMs + durationMs;
  let nextCheck = cluster.scheduler.nowMs + SAFETY_CHECK_INTERVAL_MS;
  while (cluster.scheduler.nowMs < end) {
    await cluster.scheduler.runFor(faults.nextGapMs());
    await faults.injectOne();
    if (cluster.scheduler.nowMs >= nextCheck) {
      cluster.checkSafety();
      nextCheck += SAFETY_CHECK_INTERVAL_MS;
    }
  }
  // Liveness is judged on a quiet cluster: with clients still writing, a follower on a slow
  // configuration may trail forever without anything being wrong.
  workload.stop();
  await faults.healAll();
  const converged = await convergence(cluster, options.convergeWithinMs ?? 30_000);
  if (!converged) {
    cluster.checker.violate(
      `no convergence within ${options.convergeWithinMs ?? 30_000} ms after healing: ${cluster.describe()}`,
    );
  }
  cluster.checkSafety();
  cluster.checker.checkAcknowledgedApplied();
  cluster.dispose();
  return {
    seed: options.seed,
    nodes,
    violations: cluster.checker.violations,
    appliedEntries: cluster.checker.appliedCount,
    acknowledged: cluster.checker.ackedCount,
    faults: faults.count,
    virtualMs: cluster.scheduler.nowMs,
  };
}

/** After healing: a leader, one fresh write through it, and every node applied all committed entries. */
async function convergence(cluster: SimCluster, maxMs: number): Promise<boolean> {
  const deadline = cluster.scheduler.nowMs + maxMs;
  while (cluster.scheduler.nowMs < deadline) {
    const leader = await cluster.waitForLeader(deadline - cluster.scheduler.nowMs);
    if (leader === undefined) return false;
    try {
      await cluster.settle(cluster.apply(leader, new TextEncoder().encode("heal-probe"), 3000), 3001);
    } catch {
      // Leadership moved (or a transfer refused the write at once): let time pass, then retry.
      await cluster.scheduler.runFor(50);
      continue;
    }
    if (await cluster.scheduler.runUntil(() => cluster.converged(), deadline - cluster.scheduler.nowMs))
      return true;
  }
  return false;
}

/** Clients that each apply unique values one after another, through whoever seems to lead. */
class Workload {
  private running = false;
  private sequence = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly clients: number,
  ) {}

  start(): void {
    this.running = true;
    for (let client = 0; client < this.clients; client++) void this.loop(client);
  }

  stop(): void {
    this.running = false;
  }

  private async loop(client: number): Promise<void> {
    while (this.running) {
      const target = this.target();
      if (target === undefined) {
        await this.sleep(this.prng.int(10, 100));
        continue;
      }
      if (this.prng.chance(0.2)) {
        await this.read(target);
        continue;
      }
      const data = new TextEncoder().encode(`c${client}-${this.sequence++}`);
      try {
        await this.cluster.apply(target, data, 3000);
      } catch {
        await this.sleep(this.prng.int(5, 50));
      }
    }
  }

  /** A linearizable read: it must see every write acknowledged before it began. */
  private async read(target: PeerKey): Promise<void> {
    const floor = this.cluster.checker.readStarted();
    try {
      const { index } = await this.cluster.node(target).readIndex({ timeoutMs: 3000 });
      this.cluster.checker.observeRead(target, floor, index);
    } catch {
      await this.sleep(this.prng.int(5, 50));
    }
  }

  private target(): PeerKey | undefined {
    const running = this.cluster.running();
    if (running.length === 0) return undefined;
    return this.prng.chance(0.9)
      ? (this.cluster.leader() ?? this.prng.pick(running))
      : this.prng.pick(running);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.cluster.scheduler.schedule(ms, resolve));
  }
}

/** Picks and applies one random fault at a time. */
class FaultInjector {
  count = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly log: (line: string) => void,
  ) {}

  nextGapMs(): number {
    return this.prng.int(50, 1000);
  }

  async injectOne(): Promise<void> {
    this.count++;
    const { cluster, prng } = this;
    const crashed = cluster.peers.filter((peer) => cluster.process(peer).node === undefined);
    const kind = prng.pick([
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
      "quiet",
    ] as const);
    const at = `t=${cluster.scheduler.nowMs.toFixed(0)}`;
    switch (kind) {
      case "partition": {
        const shuffled = [...cluster.peers].sort(() => prng.next() - 0.5);
        const cut = prng.int(1, shuffled.length - 1);
        cluster.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        this.log(`${at} partition ${shuffled.slice(0, cut).join(" ")} | ${shuffled.slice(cut).join(" ")}`);
        return;
      }
      case "oneWay": {
        const from = prng.pick(cluster.peers);
        const to = prng.pick(cluster.peers.filter((peer) => peer !== from));
        cluster.network.cutOneWay(from, to);
        this.log(`${at} cut ${from} -> ${to}`);
        return;
      }
      case "heal":
        cluster.network.heal();
        this.log(`${at} heal`);
        return;
      case "crash": {
        const running = cluster.running();
        if (running.length === 0) return;
        const victim = prng.pick(running);
        cluster.crash(victim);
        this.log(`${at} crash ${victim}`);
        return;
      }
      case "crashLeader": {
        const leader = cluster.leader();
        if (leader === undefined) return;
        cluster.crash(leader);
        this.log(`${at} crash leader ${leader}`);
        return;
      }
      case "restart": {
        if (crashed.length === 0) return;
        const peer = prng.pick(crashed);
        await cluster.start(peer);
        this.log(`${at} restart ${peer}`);
        return;
      }
      case "snapshot": {
        const running = cluster.running();
        if (running.length === 0 || cluster.options.snapshots === undefined) return;
        const peer = prng.pick(running);
        cluster
          .node(peer)
          .snapshot()
          .catch(() => undefined);
        this.log(`${at} snapshot ${peer}`);
        return;
      }
      case "membership":
        this.changeMembership(at);
        return;
      case "transfer": {
        const leader = cluster.leader();
        if (leader === undefined) return;
        const target = prng.chance(0.5) ? prng.pick(cluster.peers) : "0.0.0.0:0:0";
        cluster
          .node(leader)
          .transferLeadershipTo(target)
          .catch(() => undefined);
        this.log(`${at} transfer ${leader} -> ${target}`);
        return;
      }
      case "quiet":
        return;
    }
  }

  /** Removes a follower (keeping three voters) or adds back a running non-member, through the leader. */
  private changeMembership(at: string): void {
    const { cluster, prng } = this;
    const leader = cluster.leader();
    if (leader === undefined) return;
    const members = cluster.node(leader).getStatus().peers;
    const outsiders = cluster.running().filter((peer) => !members.includes(peer));
    const node = cluster.node(leader);
    if (outsiders.length > 0 && (members.length <= 3 || prng.chance(0.5))) {
      const peer = prng.pick(outsiders);
      node.addPeer(peer).catch(() => undefined);
      this.log(`${at} add ${peer}`);
    } else if (members.length > 3) {
      const peer = prng.pick(members.filter((p) => p !== leader));
      node.removePeer(peer).catch(() => undefined);
      this.log(`${at} remove ${peer}`);
    }
  }

  async healAll(): Promise<void> {
    const { cluster } = this;
    cluster.network.heal();
    cluster.network.setOptions({ lossRate: 0, duplicateRate: 0 });
    for (const peer of cluster.peers) if (cluster.process(peer).node === undefined) await cluster.start(peer);
    this.log(`t=${cluster.scheduler.nowMs.toFixed(0)} healed everything`);
  }
}
