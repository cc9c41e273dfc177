/**
 * The faults of quiescence runs (docs/quiescence.md): now and then the clients pause long enough
 * for the group to go quiet, and then the process of the quiet leader (or of a follower) is
 * killed, cut off or paused, or nothing happens; the clients resume after a while. Quiet
 * followers must notice through the process liveness alone and elect, and every check of the
 * run (one leader per term, log matching, linearizable reads and writes) still holds.
 */
import type { PeerKey } from "../core/types.js";
import type { Prng } from "./prng.js";
import type { SimCluster } from "./sim-cluster.js";
import type { Workload } from "./sim-workload.js";

/** What may happen to a quiet group. */
const QUIET_FAULTS = ["killLeader", "partitionLeader", "pauseLeader", "killFollower", "none"] as const;

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
    if (prng.chance(0.7)) await this.healFaults();
    // Long enough for in-flight operations to end and the group to quiesce (3 heartbeats idle).
    await cluster.scheduler.runFor(prng.int(1500, 4000));
    const fault = prng.pick(QUIET_FAULTS);
    const leader = cluster.leader();
    const quiet = leader !== undefined && cluster.node(leader).getStatus().quiet;
    if (quiet) this.quietHits++;
    const line = this.inject(fault);
    this.log(`t=${cluster.scheduler.nowMs.toFixed(0)} ${quiet ? "quiet" : "not quiet"}: ${line}`);
    // Quiet groups elect within the usual timeouts: give them that long before the clients return.
    await cluster.scheduler.runFor(prng.int(0, 3 * this.electionTimeoutMs));
    this.workload.resume();
  }

  private async healFaults(): Promise<void> {
    const { cluster } = this;
    cluster.network.heal();
    for (const peer of cluster.peers) if (cluster.process(peer).node === undefined) await cluster.start(peer);
  }

  private inject(fault: (typeof QUIET_FAULTS)[number]): string {
    const { cluster, prng } = this;
    const leader = cluster.leader();
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
