/**
 * One client call's deadline and cancellation, on an injected clock: a single AbortSignal that
 * fires when the caller aborts or the deadline passes, and waits that end early when it does.
 */
import type { CancelTimer, Env } from "../env/env.js";

/** The clock and timers the client runs on (the simulator's on virtual time). */
export type ClientClock = Pick<Env, "nowMs" | "setTimer">;

/** Exact timers: a deadline must not fire late (the node's Env batches long timers). */
export const preciseClock: ClientClock = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
};

/** Why a call stopped before it had an answer. */
export type StopReason = "deadline" | "aborted";

/** A deadline plus the caller's signal, folded into one signal. */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly cancelTimer: CancelTimer;
  private readonly detach: () => void;
  private reason: StopReason | undefined;
  readonly atMs: number;

  constructor(
    private readonly clock: ClientClock,
    readonly timeoutMs: number,
    callerSignal: AbortSignal | undefined,
  ) {
    this.atMs = clock.nowMs() + timeoutMs;
    this.cancelTimer = clock.setTimer(() => this.stop("deadline"), timeoutMs);
    const onAbort = (): void => this.stop("aborted");
    if (callerSignal?.aborted === true) this.stop("aborted");
    callerSignal?.addEventListener("abort", onAbort, { once: true });
    this.detach = () => callerSignal?.removeEventListener("abort", onAbort);
  }

  /** Aborted when the deadline passes or the caller aborts. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Why the call must stop now, if it must. The clock is read too, with a millisecond of slack:
   * timers fire a little late or (rounded to whole ms) a little early.
   */
  stopped(): StopReason | undefined {
    if (this.reason === undefined && this.clock.nowMs() >= this.atMs - 1) this.reason = "deadline";
    return this.reason;
  }

  /** Milliseconds left (> 0 while not stopped). */
  remainingMs(): number {
    return Math.max(0, this.atMs - this.clock.nowMs());
  }

  /** Waits `ms`, or less when the call stops meanwhile. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.stopped() !== undefined) return resolve();
      const done = (): void => {
        cancel();
        this.signal.removeEventListener("abort", done);
        resolve();
      };
      const cancel = this.clock.setTimer(done, Math.min(ms, this.remainingMs()));
      this.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Releases the timer and the caller's signal. */
  dispose(): void {
    this.cancelTimer();
    this.detach();
  }

  private stop(reason: StopReason): void {
    this.reason ??= reason;
    this.controller.abort();
  }
}
