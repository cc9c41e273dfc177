/**
 * The faults of quiescence runs (docs/quiescence.md): now and then the clients pause long enough
 * for the group to go quiet, and then the process of the quiet leader (or of a follower) is
 * killed, cut off or paused, or nothing happens; the clients resume after a while. Quiet
 * followers must notice through the process liveness alone and elect, and every check of the
 * run (one leader per term, log matching, linearizable reads and writes) still holds.
 *
 * With many groups per process the victim is the process leading the most groups, and a fault
 * hits all its groups at once. When the quiet period started healed, with every process up, a
 * kill or a cut of that process is also a liveness check: every quiet group it led must have a new
 * leader elsewhere within LIVENESS_TIMEOUTS election timeouts (a generous bound: the runs lose
 * messages and drift clocks; test/sim/many-groups.test.ts holds the tight one).
 */
import type { PeerKey } from "../core/types.js";
import type { Prng } from "./prng.js";
import type { SimCluster } from "./sim-cluster.js";
import type { SimGroup } from "./sim-group.js";
import type { Workload } from "./sim-workload.js";

/** What may happen to a quiet group. */
const QUIET_FAULTS = ["killLeader", "partitionLeader", "pauseLeader", "killFollower", "none"] as const;

/** Election timeouts within which every group a killed or cut-off process led has a new leader. */
const LIVENESS_TIMEOUTS = 10;

/** A group whose leader was hit, and the term it led in. */
interface Orphan {
  readonly group: SimGroup;
  readonly term: number;
}

export class QuietNemesis {
  count = 0;
  /** Faults injected while the leader's group was quiet (the point of these runs). */
  quietHits = 0;

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly workload: Workload,
    private readonly electionTimeoutMs: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Sometimes (a quarter of the calls): an idle period, a fault while quiet, and recovery time. */
  async maybeInject(): Promise<void> {
    if (!this.prng.chance(0.25)) return;
    this.count++;
    const { cluster, prng } = this;
    this.workload.pause();
    // A group quiesces only with every follower answering: most quiet periods start healed.
    const healed = prng.chance(0.7);
    if (healed) await this.healFaults();
    // Long enough for in-flight operations to end and the group to quiesce (3 heartbeats idle).
    await cluster.scheduler.runFor(prng.int(1500, 4000));
    const fault = prng.pick(QUIET_FAULTS);
    const victim = cluster.busiestLeader();
    const orphans = this.groupsLedBy(victim);
    // Only quiet groups are checked for liveness: every follower held the whole log, so the others
    // can elect (a lagging follower next to a witness cannot, rightly).
    const quietOrphans = orphans.filter(({ group }) => group.node(victim as PeerKey).getStatus().quiet);
    const quiet = quietOrphans.length;
    if (quiet > 0) this.quietHits++;
    const allUp = cluster.reachable().length === cluster.peers.length;
    const state = this.describe(victim, orphans.length, quiet);
    const line = this.inject(fault);
    this.log(`t=${cluster.scheduler.nowMs.toFixed(0)} ${state}: ${line}`);
    // Quiet groups elect within the usual timeouts: give them that long before the clients return.
    const recoveryMs = prng.int(0, 3 * this.electionTimeoutMs);
    const checked =
      cluster.groups.length > 1 && healed && allUp && (fault === "killLeader" || fault === "partitionLeader");
    const spentMs = checked ? await this.awaitNewLeaders(victim as PeerKey, quietOrphans, fault) : 0;
    await cluster.scheduler.runFor(Math.max(0, recoveryMs - spentMs));
    this.workload.resume();
  }

  /** Groups whose leader is `peer` now, with their terms. */
  private groupsLedBy(peer: PeerKey | undefined): Orphan[] {
    if (peer === undefined) return [];
    return this.cluster.groups
      .filter((group) => group.leader() === peer)
      .map((group) => ({ group, term: group.node(peer).term }));
  }

  /** The state a quiet fault hits, for the verbose log. */
  private describe(victim: PeerKey | undefined, led: number, quiet: number): string {
    if (this.cluster.groups.length === 1) return quiet > 0 ? "quiet" : "not quiet";
    return `${this.quietCounts()}; ${victim ?? "nobody"} led ${led} groups (${quiet} quiet)`;
  }

  /** "quiet leaders 11/16, followers 22/32": how many of each role are quiet. */
  private quietCounts(): string {
    let leaders = 0;
    let quietLeaders = 0;
    let followers = 0;
    let quietFollowers = 0;
    for (const group of this.cluster.groups)
      for (const peer of this.cluster.running()) {
        const status = group.node(peer).getStatus();
        if (status.state === "LEADER") {
          leaders++;
          if (status.quiet) quietLeaders++;
        } else if (status.state === "FOLLOWER") {
          followers++;
          if (status.quiet) quietFollowers++;
        }
      }
    return `quiet leaders ${quietLeaders}/${leaders}, followers ${quietFollowers}/${followers}`;
  }

  /**
   * Runs until every orphaned group has a leader of a newer term on another process, or the
   * liveness bound passed (a violation in that group). Returns the virtual time spent.
   */
  private async awaitNewLeaders(victim: PeerKey, orphans: readonly Orphan[], fault: string): Promise<number> {
    const { scheduler } = this.cluster;
    const startMs = scheduler.nowMs;
    const replaced = ({ group, term }: Orphan): boolean => {
      const leader = group.leader();
      return leader !== undefined && leader !== victim && group.node(leader).term > term;
    };
    await scheduler.runUntil(() => orphans.every(replaced), LIVENESS_TIMEOUTS * this.electionTimeoutMs);
    for (const orphan of orphans) {
      if (replaced(orphan)) continue;
      orphan.group.checker.violate(
        `no new leader within ${LIVENESS_TIMEOUTS} election timeouts after ${fault} of ${victim}, which led term ${orphan.term}: ${orphan.group.describe()}`,
      );
    }
    const spentMs = scheduler.nowMs - startMs;
    this.log(
      `t=${scheduler.nowMs.toFixed(0)} ${orphans.length} groups led by ${victim} re-elected in ${spentMs.toFixed(0)} ms`,
    );
    return spentMs;
  }

  private async healFaults(): Promise<void> {
    const { cluster } = this;
    cluster.network.heal();
    for (const peer of cluster.peers) if (!cluster.running().includes(peer)) await cluster.start(peer);
  }

  private inject(fault: (typeof QUIET_FAULTS)[number]): string {
    const { cluster, prng } = this;
    const leader = cluster.busiestLeader();
    const followers = cluster.running().filter((peer) => peer !== leader);
    switch (fault) {
      case "killLeader":
        if (leader === undefined) return "no leader to kill";
        cluster.crash(leader);
        return `crash leader ${leader}`;
      case "partitionLeader": {
        if (leader === undefined) return "no leader to cut off";
        const others = cluster.peers.filter((peer) => peer !== leader);
        cluster.network.partition([[leader], others]);
        return `partition leader ${leader}`;
      }
      case "pauseLeader": {
        if (leader === undefined) return "no leader to pause";
        const ms = prng.int(100, 3 * this.electionTimeoutMs);
        cluster.pause(leader, ms);
        return `pause leader ${leader} for ${ms} ms`;
      }
      case "killFollower": {
        if (followers.length === 0) return "no follower to kill";
        const peer: PeerKey = prng.pick(followers);
        cluster.crash(peer);
        return `crash follower ${peer}`;
      }
      case "none":
        return "nothing";
    }
  }
}
