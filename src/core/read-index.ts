/**
 * ReadIndex (Raft §6.4), beyond braft: a leader confirms it still leads with one quorum round of
 * heartbeats, shared by every read waiting at that moment, then each read may be served once the
 * state machine has applied the commit index recorded when the read arrived.
 */
import { quorumVoteResult } from "./quorum.js";
import { leaderOf, type CoreState, type PendingRead, type ReadRounds } from "./core-state.js";

export type { PendingRead };
import type { PeerKey } from "./types.js";

interface Round {
  /** Answers to requests with a sequence number from here on prove leadership after the reads. */
  readonly startSeq: number;
  readonly reads: PendingRead[];
  readonly acks: Set<PeerKey>;
}

export class ReadIndexTracker implements ReadRounds {
  private waiting: PendingRead[] = [];
  private round: Round | undefined;

  /** Registers a read on the leader; it is confirmed by the next round. */
  add(core: CoreState, id: number, nowMs: number): void {
    this.waiting.push({ id, index: core.commitIndex });
    if (this.round === undefined) this.startRound(core, nowMs);
  }

  /** A peer answered request `seq` in the current term. */
  onAck(core: CoreState, peer: PeerKey, seq: number, nowMs: number): void {
    const round = this.round;
    if (round === undefined || seq < round.startSeq) return;
    round.acks.add(peer);
    this.tryFinish(core, nowMs);
  }

  /** The leader committed an entry of its term: reads held back until then may start. */
  onCommit(core: CoreState, nowMs: number): void {
    if (this.round === undefined && this.waiting.length > 0) this.startRound(core, nowMs);
  }

  /** Leadership ended: every read fails. Returns their ids. */
  drain(): number[] {
    const ids = [...(this.round?.reads ?? []), ...this.waiting].map((read) => read.id);
    this.round = undefined;
    this.waiting = [];
    return ids;
  }

  /** No read is waiting or being confirmed. */
  idle(): boolean {
    return this.round === undefined && this.waiting.length === 0;
  }

  private startRound(core: CoreState, nowMs: number): void {
    // A new leader knows its commit index only once an entry of its own term is committed.
    if (core.commitIndex < (leaderOf(core)?.startIndex ?? Number.POSITIVE_INFINITY)) return;
    const reads = this.waiting.map((read) => ({
      id: read.id,
      index: Math.max(read.index, core.commitIndex),
    }));
    this.waiting = [];
    this.round = { startSeq: core.nextSeq(), reads, acks: new Set([core.config.self]) };
    core.heartbeatNow(nowMs);
    this.tryFinish(core, nowMs);
  }

  private tryFinish(core: CoreState, nowMs: number): void {
    const round = this.round;
    if (round === undefined) return;
    if (quorumVoteResult(core.voters(), (peer) => (round.acks.has(peer) ? true : undefined)) !== "won")
      return;
    this.round = undefined;
    core.emit({ type: "readIndexReady", reads: round.reads });
    if (this.waiting.length > 0) this.startRound(core, nowMs);
  }
}
