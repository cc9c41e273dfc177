/**
 * braft's Iterator over a run of committed DATA entries handed to `onApply`.
 *
 * `done` is set only on the leader that proposed the entry, in the term it proposed it.
 * `setErrorAndRollback` marks the last `ntail` iterated entries as not applied and stops the node.
 */
import { RaftError } from "../core/errors.js";
import type { LogEntry } from "../core/types.js";
import { Status, type ApplyClosure } from "./closure.js";

/** One entry as the iterable form of Iterator yields it. */
export interface IteratedEntry {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
  readonly done: ApplyClosure | undefined;
}

export class Iterator {
  private position = 0;
  private rollbackError: RaftError | undefined;

  /** @internal Built by the FSMCaller. */
  constructor(
    private readonly entries: readonly LogEntry[],
    private readonly closures: readonly (ApplyClosure | undefined)[],
  ) {}

  /** Whether the iterator points at an entry (and no error was set). */
  valid(): boolean {
    return this.rollbackError === undefined && this.position < this.entries.length;
  }

  next(): void {
    if (this.valid()) this.position++;
  }

  get index(): number {
    return this.current().index;
  }

  get term(): number {
    return this.current().term;
  }

  get data(): Uint8Array {
    return this.current().data;
  }

  /** The proposer's closure; undefined on followers and for entries of earlier leaders. */
  get done(): ApplyClosure | undefined {
    this.current();
    return this.closures[this.position];
  }

  /**
   * Treats the last `ntail` iterated entries (counting the current one) as not applied and puts
   * the node into the ERROR state once onApply returns. No further entries are delivered.
   */
  setErrorAndRollback(ntail = 1, status?: Status): void {
    if (!Number.isInteger(ntail) || ntail < 1 || ntail > this.position + 1) {
      throw new RaftError("EINVAL", `cannot roll back ${ntail} entries at position ${this.position}`);
    }
    const firstNotApplied = this.entries[this.position + 1 - ntail] as LogEntry;
    const reason = status === undefined || status.ok() ? "none" : status.errorText;
    this.rollbackError = new RaftError(
      "ESTATEMACHINE",
      `state machine met a critical error when applying entries from index ${firstNotApplied.index}: ${reason}`,
    );
    this.position = this.position + 1 - ntail;
  }

  *[Symbol.iterator](): Generator<IteratedEntry, void, undefined> {
    while (this.valid()) {
      const entry = this.entries[this.position] as LogEntry;
      yield { index: entry.index, term: entry.term, data: entry.data, done: this.closures[this.position] };
      this.next();
    }
  }

  /** @internal How many entries were consumed (applied) and whether an error was set. */
  outcome(): { consumed: number; error: RaftError | undefined } {
    return { consumed: this.position, error: this.rollbackError };
  }

  private current(): LogEntry {
    const entry = this.entries[this.position];
    if (entry === undefined || this.rollbackError !== undefined) {
      throw new RaftError("EINVAL", "iterator is not valid");
    }
    return entry;
  }
}

export { Status };
