/**
 * Reads waiting in the shell: first for the core to confirm leadership (a read index), then for
 * the state machine to apply up to that index. Each settles exactly once.
 */
import { RaftError } from "../core/errors.js";
import type { CancelTimer, Env } from "../env/env.js";

/** What `readIndex()` resolves with. */
export interface ReadIndexResult {
  /** The state machine has applied at least this index; reading it now is linearizable. */
  readonly index: number;
}

interface Waiter {
  readonly resolve: (result: ReadIndexResult) => void;
  readonly reject: (error: RaftError) => void;
  readonly cancelTimer: CancelTimer;
  readonly detachSignal: () => void;
  /** Set once leadership was confirmed. */
  index: number | undefined;
  /** Resolve once the local state machine applied `index` (a local read), or at confirmation. */
  readonly waitForApply: boolean;
}

export class ReadWaiters {
  private readonly waiters = new Map<number, Waiter>();
  private nextId = 1;

  constructor(private readonly env: Env) {}

  /**
   * Registers a read; `start(id)` hands it to the core (or asks the leader). With `waitForApply`
   * false (a leader serving a follower's read) it resolves as soon as the index is confirmed.
   */
  add(
    timeoutMs: number,
    signal: AbortSignal | undefined,
    start: (id: number) => void,
    waitForApply = true,
  ): Promise<ReadIndexResult> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new RaftError("ECANCELED", "read was aborted by its signal"));
        return;
      }
      const id = this.nextId++;
      const onAbort = (): void =>
        this.fail([id], new RaftError("ECANCELED", "read was aborted by its signal"));
      signal?.addEventListener("abort", onAbort, { once: true });
      const cancelTimer = this.env.setTimer(
        () => this.fail([id], new RaftError("ERAFTTIMEDOUT", `read not confirmed within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const detachSignal = (): void => signal?.removeEventListener("abort", onAbort);
      this.waiters.set(id, { resolve, reject, cancelTimer, detachSignal, index: undefined, waitForApply });
      try {
        start(id);
      } catch (error) {
        // Settle through fail() so the timer and the signal listener go with the read.
        this.fail(
          [id],
          RaftError.is(error) ? error : new RaftError("EIO", `read failed to start: ${String(error)}`),
        );
      }
    });
  }

  /** Leadership confirmed for these reads; each resolves once `appliedIndex` reaches its index. */
  confirmed(reads: readonly { id: number; index: number }[], appliedIndex: number): void {
    for (const read of reads) {
      const waiter = this.waiters.get(read.id);
      if (waiter !== undefined) waiter.index = read.index;
    }
    this.applied(appliedIndex);
  }

  /** The state machine applied through `index`. */
  applied(index: number): void {
    for (const [id, waiter] of this.waiters) {
      if (waiter.index !== undefined && (waiter.index <= index || !waiter.waitForApply)) {
        this.settle(id, waiter);
        waiter.resolve({ index: waiter.index });
      }
    }
  }

  fail(ids: Iterable<number>, error: RaftError): void {
    for (const id of ids) {
      const waiter = this.waiters.get(id);
      if (waiter === undefined) continue;
      this.settle(id, waiter);
      waiter.reject(error);
    }
  }

  failAll(error: RaftError): void {
    this.fail([...this.waiters.keys()], error);
  }

  private settle(id: number, waiter: Waiter): void {
    this.waiters.delete(id);
    waiter.cancelTimer();
    waiter.detachSignal();
  }
}
