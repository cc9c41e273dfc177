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
import type { SimGroup } from "./sim-group.js";
import { LeaseChecker } from "./sim-lease-checker.js";
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
  /**
   * Raft groups per simulated process; drawn by the seed when absent (see groupsOf). Every
   * process hosts a replica of every group; process faults hit them all at once.
   */
  readonly groups?: number | undefined;
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
  readonly groups: number;
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
  groups: number;
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
  const groups = options.groups ?? groupsOf(options.seed);
  // Many groups on many processes would make a seed cost too much: 4 groups run on at most 5
  // processes, 16 on 3.
  const nodes = options.nodes ?? Math.min(setup.int(3, 7), groups === 1 ? 7 : groups < 16 ? 5 : 3);
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
  // Many-group runs are where the liveness per process pair shows: quiescence is on in most.
  const quiescence =
    options.quiescence ?? new Prng(options.seed, "quiescence").chance(groups === 1 ? 0.3 : 0.6);
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
    groups,
    cluster: { ...cluster, snapshots, quiescence, groups },
    largeEntryChance,
    copyDelayMs,
  };
}

/**
 * Groups per process: 1 in half the runs (their seeds replay as before this draw existed), 4 in
 * 30%, 16 in 20%. Drawn from a stream of its own, so no other draw of the seed moves.
 */
function groupsOf(seed: number): number {
  return new Prng(seed, "groups").pick([1, 1, 1, 1, 1, 4, 4, 4, 16, 16]);
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
  watchEveryEvent(cluster, setup.lease, options.log);
  await cluster.startAll();
  if (setup.learner) for (const group of cluster.groups) await addLearner(group, log);
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
  const convergeDeadlineMs = cluster.scheduler.nowMs + convergeMs;
  for (const group of cluster.groups) {
    if (!(await convergence(group, convergeDeadlineMs)))
      group.checker.violate(`no convergence within ${convergeMs} ms after healing: ${group.describe()}`);
  }
  cluster.scheduler.afterEvent = undefined;
  cluster.checkSafety();
  for (const group of cluster.groups) group.checker.checkAcknowledgedApplied();
  const linearizability = history.check();
  if (linearizability !== undefined) cluster.checker.violate(linearizability);
  cluster.dispose();
  return {
    seed: options.seed,
    nodes: setup.nodes,
    groups: setup.groups,
    lease: setup.lease,
    learner: setup.learner,
    quiescence: setup.quiescence,
    witness: setup.witness,
    violations: cluster.violations,
    appliedEntries: sum(cluster.groups.map((group) => group.checker.appliedCount)),
    acknowledged: sum(cluster.groups.map((group) => group.checker.ackedCount)),
    reads: history.reads,
    faults: nemesis.count + (quiet?.count ?? 0),
    virtualMs: cluster.scheduler.nowMs,
    events: cluster.scheduler.eventsRun,
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/**
 * What runs after every scheduler event: the lease check of every group (lease runs), and, when
 * the run is verbose, a line for every change of a group's leader.
 */
function watchEveryEvent(
  cluster: SimCluster,
  lease: boolean,
  log: ((line: string) => void) | undefined,
): void {
  const leases = lease ? cluster.groups.map((group) => new LeaseChecker(group)) : [];
  const leaders = log === undefined ? undefined : new LeaderLog(cluster, log);
  if (leases.length === 0 && leaders === undefined) return;
  cluster.scheduler.afterEvent = () => {
    for (const checker of leases) checker.check();
    leaders?.check();
  };
}

/** Verbose runs: one line whenever a group's leader (the highest term's) changes. */
class LeaderLog {
  private readonly last = new Map<string, string>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly log: (line: string) => void,
  ) {}

  check(): void {
    for (const group of this.cluster.groups) {
      const leader = group.leader();
      const now = leader === undefined ? "none" : `${leader} term ${group.node(leader).term}`;
      if (this.last.get(group.groupId) === now || leader === undefined) continue;
      this.last.set(group.groupId, now);
      this.log(`t=${this.cluster.scheduler.nowMs.toFixed(0)} group ${group.groupId} leader ${now}`);
    }
  }
}

/** The last process joins the group as a learner (it started outside the initial configuration). */
async function addLearner(cluster: SimGroup, log: (line: string) => void): Promise<void> {
  const learner = cluster.peers.at(-1) as PeerKey;
  for (let attempt = 0; attempt < 20; attempt++) {
    const leader = await cluster.waitForLeader(10_000);
    if (leader === undefined) return;
    try {
      await cluster.settle(cluster.node(leader).addLearners([learner]), 10_000);
      log(`t=${cluster.scheduler.nowMs.toFixed(0)} ${cluster.groupId}: learner ${learner} added`);
      return;
    } catch (error) {
      // A new leader commits its first entry before it takes changes: wait a little and retry.
      log(`learner ${learner} not added yet: ${String(error)}`);
      await cluster.scheduler.runFor(100);
    }
  }
}

/** After healing: a leader, one fresh write through it, and every node applied all committed entries (by `deadline`). */
async function convergence(cluster: SimGroup, deadline: number): Promise<boolean> {
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
