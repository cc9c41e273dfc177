/**
 * One randomized simulation run: a cluster of 3-7 real nodes under a random workload and random
 * faults (see sim-nemesis.ts), with the leader lease on in most runs and drifting, pausable
 * clocks (sim-clock.ts), checked after every event of the scheduler, then healed and required to
 * converge (liveness), and its client history checked for linearizability. Everything derives
 * from the seed, so a failing run replays exactly.
 */
import type { PeerKey } from "../core/types.js";
import type { FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { MemoryFileSystemAdaptor } from "../storage/fs-adaptor-memory.js";
import { Prng } from "./prng.js";
import { maxSafeClockRate } from "./sim-clock.js";
import { SimCluster } from "./sim-cluster.js";
import { SimHistory } from "./sim-history.js";
import { Nemesis } from "./sim-nemesis.js";
import { Workload } from "./sim-workload.js";
import { QuietNemesis } from "./sim-quiet-nemesis.js";

export interface SimRunOptions {
  readonly seed: number;
  /** Cluster size; drawn from 3..7 by the seed when absent. */
  readonly nodes?: number | undefined;
  /** Virtual time under faults before healing. */
  readonly durationMs?: number | undefined;
  readonly clients?: number | undefined;
  /** After healing, the cluster must converge within this much virtual time. */
  readonly convergeWithinMs?: number | undefined;
  /** Nemesis kinds never injected (see NEMESIS_KINDS). */
  readonly without?: ReadonlySet<string> | undefined;
  /** Forces the clocks to be perfect (no drift), to tell drift from other causes. */
  readonly perfectClocks?: boolean | undefined;
  /** Forces the leader lease on or off (drawn by the seed when absent). */
  readonly lease?: boolean | undefined;
  /** Forces quiescent groups on or off (drawn by the seed when absent: 30% of runs). */
  readonly quiescence?: boolean | undefined;
  /**
   * Every process keeps its snapshots in `local://` storage through a MemoryFileSystemAdaptor
   * (NodeOptions.snapshotFileSystemAdaptor), and snapshots are on in every run: the seed's own
   * snapshot draw, or every 2 s with a margin of 5 entries when it drew none. No other draw
   * changes.
   */
  readonly snapshotFileSystem?: boolean | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

export interface SimRunResult {
  readonly seed: number;
  readonly nodes: number;
  readonly lease: boolean;
  readonly learner: boolean;
  readonly quiescence: boolean;
  /** The last peer was a witness; "leader" when raft_enable_witness_to_leader was set too. */
  readonly witness: "none" | "follower" | "leader";
  readonly violations: readonly string[];
  readonly appliedEntries: number;
  readonly acknowledged: number;
  readonly reads: SimHistory["reads"];
  readonly faults: number;
  readonly virtualMs: number;
  readonly events: number;
}

const ELECTION_TIMEOUT_MS = 1000;

const memoryFileSystem = (): FileSystemAdaptor => new MemoryFileSystemAdaptor();

/** The run's configuration, all drawn from the seed's "setup" stream. */
function setupOf(options: SimRunOptions): {
  nodes: number;
  lease: boolean;
  learner: boolean;
  quiescence: boolean;
  witness: SimRunResult["witness"];
  maxClockDriftMs: number;
  cluster: ConstructorParameters<typeof SimCluster>[0];
  largeEntryChance: number;
  copyDelayMs: number;
} {
  const setup = new Prng(options.seed, "setup");
  const nodes = options.nodes ?? setup.int(3, 7);
  const leaseDrawn = setup.chance(0.6);
  const lease = options.lease ?? leaseDrawn;
  const maxClockDriftMs = setup.pick([200, 500, 1000]);
  // A leader may be given up to timeout + drift/2 at run time (the timing nemeses), so rates
  // stay within what keeps the lease safe against that (with a 10% margin).
  const clockRateMax =
    0.9 * maxSafeClockRate(ELECTION_TIMEOUT_MS, maxClockDriftMs, ELECTION_TIMEOUT_MS + maxClockDriftMs / 2);
  const learner = setup.chance(0.3) && nodes > 3;
  const witness = witnessOf(options.seed, learner);
  const cluster = {
    seed: options.seed,
    nodes,
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    maxClockDriftMs,
    clockRateMax: setup.chance(0.8) && options.perfectClocks !== true ? clockRateMax : 0,
    initialVoters: learner ? nodes - 1 : undefined,
    witnesses: witness === "none" ? 0 : 1,
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
      raft_enable_leader_lease: lease,
      raft_enable_witness_to_leader: witness === "leader",
    },
    // Half the runs take snapshots and compact their logs, so lagging and restarted nodes catch
    // up by snapshot install; margin 0 compacts right up to the snapshot.
    snapshots: setup.chance(0.5)
      ? { intervalS: setup.pick([1, 2, 5]), logMarginEntries: setup.pick([0, 5, 50]) }
      : undefined,
  };
  // Drawn from a stream of its own, so the runs of every seed before quiescence stay the same.
  const quiescence = options.quiescence ?? new Prng(options.seed, "quiescence").chance(0.3);
  const snapshots =
    options.snapshotFileSystem === true
      ? { ...(cluster.snapshots ?? { intervalS: 2, logMarginEntries: 5 }), fileSystem: memoryFileSystem }
      : cluster.snapshots;
  const largeEntryChance = setup.chance(0.2) ? 0.03 : 0;
  // Some runs copy snapshots slowly (a throttled install longer than an election timeout).
  const copyDelayMs = setup.pick([10, 10, 500, 3000]);
  return {
    nodes,
    lease,
    learner,
    witness,
    quiescence,
    maxClockDriftMs,
    cluster: { ...cluster, snapshots, quiescence },
    largeEntryChance,
    copyDelayMs,
  };
}

/**
 * A quarter of the runs without a learner make their last peer a witness, half of those with
 * raft_enable_witness_to_leader. Drawn from a stream of its own, so the other setup draws of
 * every seed stay what they were.
 */
function witnessOf(seed: number, learner: boolean): SimRunResult["witness"] {
  const draw = new Prng(seed, "witness");
  if (learner || !draw.chance(0.25)) return "none";
  return draw.chance(0.5) ? "leader" : "follower";
}

export async function runSimulation(options: SimRunOptions): Promise<SimRunResult> {
  const setup = setupOf(options);
  const cluster = new SimCluster(setup.cluster);
  cluster.snapshotTransfer.copyDelayMs = setup.copyDelayMs;
  const log = options.log ?? (() => undefined);
  const nemesis = new Nemesis(
    cluster,
    new Prng(options.seed, "faults"),
    {
      electionTimeoutMs: ELECTION_TIMEOUT_MS,
      maxClockDriftMs: setup.maxClockDriftMs,
      without: options.without,
    },
    log,
  );
  const leases = new LeaseChecker(cluster);
  if (setup.lease) cluster.scheduler.afterEvent = () => leases.check();
  await cluster.startAll();
  if (setup.learner) await addLearner(cluster, log);
  const history = new SimHistory();
  const workload = new Workload(cluster, new Prng(options.seed, "workload"), history, {
    clients: options.clients ?? 3,
    keys: 5,
    largeEntryChance: setup.largeEntryChance,
    largeEntryMaxBytes: 4 << 20,
    leaseReads: setup.lease,
  });
  workload.start();
  const quiet = setup.quiescence
    ? new QuietNemesis(cluster, new Prng(options.seed, "quiet faults"), workload, ELECTION_TIMEOUT_MS, log)
    : undefined;
  const end = cluster.scheduler.nowMs + (options.durationMs ?? 20_000);
  while (cluster.scheduler.nowMs < end) {
    await cluster.scheduler.runFor(nemesis.nextGapMs());
    await nemesis.injectOne();
    await quiet?.maybeInject();
  }
  // Liveness is judged on a quiet cluster: with clients still writing, a follower on a slow
  // configuration may trail forever without anything being wrong.
  workload.stop();
  await nemesis.healAll();
  const convergeMs = options.convergeWithinMs ?? 30_000;
  if (!(await convergence(cluster, convergeMs))) {
    cluster.checker.violate(`no convergence within ${convergeMs} ms after healing: ${cluster.describe()}`);
  }
  cluster.scheduler.afterEvent = undefined;
  cluster.checkSafety();
  cluster.checker.checkAcknowledgedApplied();
  const linearizability = history.check();
  if (linearizability !== undefined) cluster.checker.violate(linearizability);
  cluster.dispose();
  return {
    seed: options.seed,
    nodes: setup.nodes,
    lease: setup.lease,
    learner: setup.learner,
    quiescence: setup.quiescence,
    witness: setup.witness,
    violations: cluster.checker.violations,
    appliedEntries: cluster.checker.appliedCount,
    acknowledged: cluster.checker.ackedCount,
    reads: history.reads,
    faults: nemesis.count + (quiet?.count ?? 0),
    virtualMs: cluster.scheduler.nowMs,
    events: cluster.scheduler.eventsRun,
  };
}

/** The last process joins as a learner (it started outside the initial configuration). */
async function addLearner(cluster: SimCluster, log: (line: string) => void): Promise<void> {
  const learner = cluster.peers.at(-1) as PeerKey;
  for (let attempt = 0; attempt < 20; attempt++) {
    const leader = await cluster.waitForLeader(10_000);
    if (leader === undefined) return;
    try {
      await cluster.settle(cluster.node(leader).addLearners([learner]), 10_000);
      log(`t=${cluster.scheduler.nowMs.toFixed(0)} learner ${learner} added`);
      return;
    } catch (error) {
      // A new leader commits its first entry before it takes changes: wait a little and retry.
      log(`learner ${learner} not added yet: ${String(error)}`);
      await cluster.scheduler.runFor(100);
    }
  }
}

/**
 * The lease's promise, checked after every event: while a node holds a valid leader lease in
 * term T, no node leads a term above T. Voters refuse votes while they hear from a live leader
 * (and braft ends the lease when a transfer starts), so a newer leader during a valid lease is a
 * window in which it may commit writes that the old leader's lease reads do not see.
 */
class LeaseChecker {
  private readonly reported = new Set<string>();

  constructor(private readonly cluster: SimCluster) {}

  check(): void {
    let holder: { peer: PeerKey; term: number } | undefined;
    let newest: { peer: PeerKey; term: number } | undefined;
    for (const peer of this.cluster.peers) {
      const node = this.cluster.process(peer).node;
      if (node === undefined || !node.isLeader()) continue;
      const term = node.term;
      if (node.isLeaderLeaseValid() && (holder === undefined || term < holder.term)) holder = { peer, term };
      if (newest === undefined || term > newest.term) newest = { peer, term };
    }
    if (holder === undefined || newest === undefined || newest.term <= holder.term) return;
    const pair = `${holder.term}/${newest.term}`;
    if (this.reported.has(pair)) return;
    this.reported.add(pair);
    const newestNode = this.cluster.node(newest.peer);
    this.cluster.checker.violate(
      `${holder.peer} holds a valid leader lease in term ${holder.term} at t=${this.cluster.scheduler.nowMs.toFixed(1)} ` +
        `while ${newest.peer} leads term ${newest.term}` +
        (newestNode.isLeaderLeaseValid() ? " (and holds a valid lease too: it committed in its term)" : ""),
    );
  }
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
