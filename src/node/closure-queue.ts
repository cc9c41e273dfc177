/**
 * braft's ClosureQueue (closure_queue.cpp): the closures of entries this leader proposed, waiting
 * for their entries to be committed and applied. (braft's BallotBox, which counts the votes for
 * commit, is the core's quorum module.)
 * Invariant: closures are held in strictly increasing index order.
 */
import { invariant } from "../core/errors.js";
import type { Status } from "./closure.js";
import type { Closure } from "./closure.js";
import { runEach } from "./user-code.js";

interface Pending {
  readonly index: number;
  readonly closure: Closure;
}

export class ClosureQueue {
  private pending: Pending[] = [];
  private head = 0;

  get size(): number {
    return this.pending.length - this.head;
  }

  /** Index of the oldest entry still waiting (braft's pending_index); 0 when none is. */
  get firstPendingIndex(): number {
    return this.pending[this.head]?.index ?? 0;
  }

  /** Registers the closure of the entry at `index`. */
  append(index: number, closure: Closure): void {
    const last = this.pending[this.pending.length - 1];
    invariant(
      this.size === 0 || last === undefined || last.index < index,
      () => `closure for ${index} out of order`,
    );
    this.pending.push({ index, closure });
  }

  /** Removes and returns the closure registered for `index`, dropping any for earlier indexes. */
  take(index: number): Closure | undefined {
    while (this.head < this.pending.length) {
      const next = this.pending[this.head] as Pending;
      if (next.index > index) return undefined;
      this.head++;
      if (next.index === index) {
        this.compact();
        return next.closure;
      }
    }
    this.compact();
    return undefined;
  }

  /**
   * Fails every pending closure, e.g. when this node stops leading (braft's clear_pending_tasks).
   * Their entries are in the log and a later leader may still commit them: the outcome is unknown.
   * Every closure runs even if some throw; the first throw is then rethrown as ESTATEMACHINE.
   */
  clear(status: Status): void {
    const failed = this.pending.slice(this.head);
    this.pending = [];
    this.head = 0;
    const unknown = status.withOutcome("unknown");
    runEach(failed, ({ closure }) => closure.run(unknown));
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}
