/**
 * The queue between `apply()` callers and the core: tasks arriving in the same tick are proposed
 * as one batch (braft's apply queue), so N concurrent clients cost one log write and one round of
 * AppendEntries instead of N.
 */
import type { RaftError } from "../core/errors.js";
import { Status, type ApplyClosure, type Closure } from "./closure.js";
import { runEach } from "./user-code.js";

/** braft's Task: data to replicate and the closure told of the outcome. */
export interface Task {
  readonly data: Uint8Array;
  /** Run exactly once: after the entry was applied on this node, or with the error that prevented it. */
  readonly done?: Closure | undefined;
  /** Fail with EPERM (braft's code) unless the leader's term is still this one. */
  readonly expectedTerm?: number | undefined;
}

/** What `apply()` resolves with. */
export interface ApplyResult {
  readonly index: number;
  readonly term: number;
  /** The value the state machine passed to `iter.done.setResult`. */
  readonly result: unknown;
}

export interface QueuedTask {
  readonly data: Uint8Array;
  readonly closure: Closure;
  readonly expectedTerm: number | undefined;
}

/** A closure that settles an `apply()` Promise; cancellable through an AbortSignal. */
export class PromiseClosure implements ApplyClosure {
  private settled = false;
  private result: unknown;
  /** Index and term once proposed. */
  proposed: { index: number; term: number } | undefined;
  private readonly abortListener: (() => void) | undefined;

  constructor(
    private readonly resolve: (result: ApplyResult) => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly leaderIdNow: () => string | undefined,
  ) {
    if (signal !== undefined) {
      this.abortListener = () => this.run(Status.error("ECANCELED", "apply was aborted by its signal"));
      signal.addEventListener("abort", this.abortListener, { once: true });
    }
  }

  setResult(value: unknown): void {
    this.result = value;
  }

  run(status: Status): void {
    if (this.settled) return;
    this.settled = true;
    if (this.abortListener !== undefined) this.signal?.removeEventListener("abort", this.abortListener);
    if (!status.ok()) {
      const error = status.toError(status.code === "EPERM" ? this.leaderIdNow() : undefined);
      // An entry that never reached the log cannot commit, whatever failed it.
      this.reject(this.proposed === undefined ? error.withOutcome("refused") : error);
      return;
    }
    const { index, term } = this.proposed ?? { index: 0, term: 0 };
    this.resolve({ index, term, result: this.result });
  }

  get isSettled(): boolean {
    return this.settled;
  }
}

export class ApplyQueue {
  private tasks: QueuedTask[] = [];
  /** Tasks before this index were taken (taking a batch does not copy the rest). */
  private head = 0;

  get length(): number {
    return this.tasks.length - this.head;
  }

  push(task: QueuedTask): void {
    this.tasks.push(task);
  }

  /** Takes every queued task that is still wanted (aborted ones are dropped). */
  takeAll(): QueuedTask[] {
    return this.take(Number.POSITIVE_INFINITY);
  }

  /** Takes up to `max` of the oldest queued tasks still wanted (aborted ones are dropped). */
  take(max: number): QueuedTask[] {
    const taken: QueuedTask[] = [];
    while (this.head < this.tasks.length && taken.length < max) {
      const task = this.tasks[this.head++] as QueuedTask;
      if (!(task.closure instanceof PromiseClosure && task.closure.isSettled)) taken.push(task);
    }
    if (this.head === this.tasks.length) {
      this.tasks = [];
      this.head = 0;
    }
    return taken;
  }

  /** Fails every queued task: none was proposed, so each is refused (safe to retry). Every closure runs even if some throw (the first throw is rethrown). */
  failAll(error: RaftError): void {
    const status = Status.fromError(error).withOutcome("refused");
    runEach(this.takeAll(), (task) => task.closure.run(status));
  }
}
