/**
 * The Env one simulated process runs on: virtual time from the shared scheduler and randomness
 * from its own Prng stream. Killing it is how the simulator stops a crashed process's code from
 * ever running again on its own: every timer it set becomes a no-op.
 */
import type { CancelTimer, Env } from "../env/env.js";
import type { Prng } from "./prng.js";
import type { SimScheduler } from "./sim-scheduler.js";

/** An Env on virtual time; one per incarnation of a simulated process. */
export class SimEnv implements Env {
  readonly #scheduler: SimScheduler;
  readonly #prng: Prng;
  /** Cancels of timers not yet fired, so kill() can also free their scheduler slots. */
  readonly #live = new Set<CancelTimer>();
  #dead = false;

  constructor(scheduler: SimScheduler, prng: Prng) {
    this.#scheduler = scheduler;
    this.#prng = prng;
  }

  /** False once kill() was called. */
  get alive(): boolean {
    return !this.#dead;
  }

  /** Timers set and neither fired nor cancelled. */
  get pendingTimers(): number {
    return this.#live.size;
  }

  nowMs(): number {
    return this.#scheduler.nowMs;
  }

  setTimer(callback: () => void, delayMs: number): CancelTimer {
    if (this.#dead) return () => {};
    const cancel = this.#scheduler.schedule(delayMs, () => {
      this.#live.delete(cancel);
      if (!this.#dead) callback();
    });
    this.#live.add(cancel);
    return () => {
      this.#live.delete(cancel);
      cancel();
    };
  }

  random(): number {
    return this.#prng.next();
  }

  /** The process crashed: no timer it set, before or after this call, will ever fire. */
  kill(): void {
    this.#dead = true;
    for (const cancel of this.#live) cancel();
    this.#live.clear();
  }
}
