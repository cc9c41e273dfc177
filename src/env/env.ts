/**
 * Everything nondeterministic a node uses: time, timers and randomness. The shell takes an Env,
 * so the simulator can run real nodes on virtual time with seeded randomness.
 */

/** Cancels a timer; calling it after the timer fired does nothing. */
export type CancelTimer = () => void;

export interface Env {
  /** Monotonic milliseconds (fractional allowed); never goes back. */
  nowMs(): number;
  /** Runs `callback` once after `delayMs`. */
  setTimer(callback: () => void, delayMs: number): CancelTimer;
  /** A uniform random number in [0, 1). */
  random(): number;
}

/** The real environment: performance.now, setTimeout and Math.random. */
export const realEnv: Env = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    return () => clearTimeout(handle);
  },
  random: () => Math.random(),
};
