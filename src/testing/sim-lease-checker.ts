/**
 * The leader lease's promise in a simulated group, for checking after every scheduler event.
 */
import type { PeerKey } from "../core/types.js";
import type { SimGroup } from "./sim-group.js";

/**
 * The lease's promise, checked after every event: while a node holds a valid leader lease in
 * term T, no node leads a term above T. Voters refuse votes while they hear from a live leader
 * (and braft ends the lease when a transfer starts), so a newer leader during a valid lease is a
 * window in which it may commit writes that the old leader's lease reads do not see.
 */
export class LeaseChecker {
  private readonly reported = new Set<string>();

  constructor(private readonly cluster: SimGroup) {}

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
