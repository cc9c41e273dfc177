/**
 * TigerBeetle's "never behind what it acknowledged": once a node told a leader it holds an entry
 * (an AppendEntries answered with success, which the leader counts toward commit), that entry is
 * in the node's durable log at that moment, and it stays there across crashes and restarts. Only
 * a later leader may remove it (a conflicting suffix of an uncommitted term), never the node's own
 * start-up.
 */
import type { AppendEntriesRequest } from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { SimDisk } from "./sim-storage.js";

interface Acknowledged {
  readonly index: number;
  readonly term: number;
  readonly leader: PeerKey;
}

export class DurabilityChecker {
  /** Per node, the highest entry it acknowledged since its log last lost a suffix legitimately. */
  private readonly floors = new Map<PeerKey, Acknowledged>();
  /** Nodes between start and the end of init(): a truncation now is the node's own doing. */
  private readonly booting = new Set<PeerKey>();

  constructor(private readonly violate: (message: string) => void) {}

  /** `node` answered `request` with success: what it acknowledged must be durable now. */
  observeAppendSuccess(node: PeerKey, request: AppendEntriesRequest, disk: SimDisk): void {
    const last = request.entries.at(-1);
    const acked: Acknowledged = {
      index: last?.index ?? request.prevLogIndex,
      term: last?.term ?? request.prevLogTerm,
      leader: request.serverId,
    };
    if (acked.index === 0) return;
    if (!this.holds(disk, acked)) {
      this.violate(
        `${node} acknowledged entry ${acked.index} of term ${acked.term} to ${acked.leader} before it was durable ` +
          `(durable term there: ${disk.durableTermAt(acked.index) ?? "none"})`,
      );
    }
    const floor = this.floors.get(node);
    if (floor === undefined || acked.index >= floor.index) this.floors.set(node, acked);
  }

  /** `node`'s durable log dropped everything after `lastIndexKept`. */
  observeTruncation(node: PeerKey, lastIndexKept: number): void {
    const floor = this.floors.get(node);
    if (floor === undefined || floor.index <= lastIndexKept) return;
    if (this.booting.has(node)) {
      this.violate(
        `${node} dropped entry ${floor.index} of term ${floor.term} (acknowledged to ${floor.leader}) from its log while starting`,
      );
    }
    this.floors.delete(node);
  }

  /** `node` starts from its disk. */
  bootStarted(node: PeerKey): void {
    this.booting.add(node);
  }

  /** `node` finished init(): what it acknowledged before its crash must still be there. */
  bootFinished(node: PeerKey, disk: SimDisk): void {
    this.booting.delete(node);
    const floor = this.floors.get(node);
    if (floor !== undefined && !this.holds(disk, floor)) {
      this.violate(
        `${node} restarted without entry ${floor.index} of term ${floor.term} that it acknowledged to ${floor.leader}`,
      );
      this.floors.delete(node);
    }
  }

  /** The node's data is gone on purpose (a wiped disk): it owes nothing any more. */
  forget(node: PeerKey): void {
    this.floors.delete(node);
  }

  /** The entry is in the durable log, or compacted into a snapshot below the log's start. */
  private holds(disk: SimDisk, acked: Acknowledged): boolean {
    if (acked.index < disk.logBounds().first) return true;
    return disk.durableTermAt(acked.index) === acked.term;
  }
}
