/**
 * The Env one simulated process runs on: its machine's clock (drifting and pausable, see
 * sim-clock.ts) over the shared scheduler's virtual time, and randomness from its own Prng stream. Killing it is how the simulator stops a crashed process's code from
 * ever running again on its own: every timer it set becomes a no-op.
 */
import type { CancelTimer, Env } from "../env/env.js";
import type { Prng } from "./prng.js";
import { SimClock } from "./sim-clock.js";
import type { SimScheduler } from "./sim-scheduler.js";

/** An Env on virtual time; one per incarnation of a simulated process. */
export class SimEnv implements Env {
  readonly #scheduler: SimScheduler;
  readonly #prng: Prng;
  /** Cancels of timers not yet fired, so kill() can also free their scheduler slots. */
  readonly #live = new Set<CancelTimer>();
  readonly #clock: SimClock;
  #dead = false;

  /** Without a clock, the process reads virtual time itself (a perfect clock). */
  constructor(scheduler: SimScheduler, prng: Prng, clock: SimClock = new SimClock(0, 0)) {
    this.#scheduler = scheduler;
    this.#prng = prng;
    this.#clock = clock;
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
    return this.#clock.localMs(this.#scheduler.nowMs);
  }

  /** `delayMs` on this machine's clock; a timer due while the machine is paused fires when it resumes. */
  setTimer(callback: () => void, delayMs: number): CancelTimer {
    if (this.#dead) return () => {};
    let cancel: CancelTimer = () => {};
    const fire = (): void => {
      this.#live.delete(handle);
      if (this.#dead) return;
      const now = this.#scheduler.nowMs;
      if (this.#clock.paused(now)) {
        cancel = this.#scheduler.schedule(this.#clock.pausedUntilMs - now, fire);
        this.#live.add(handle);
        return;
      }
      callback();
    };
    const handle: CancelTimer = () => cancel();
    cancel = this.#scheduler.schedule(this.#clock.virtualDelayMs(delayMs), fire);
    this.#live.add(handle);
    return () => {
      this.#live.delete(handle);
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
