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

/** Timers this long or longer are aligned to {@link TIMER_GRID_MS}; shorter ones fire exactly. */
const ALIGN_TIMERS_FROM_MS = 50;
/** The grid long timers are rounded up to. */
const TIMER_GRID_MS = 10;

/**
 * The delay that makes a long timer fire on the next TIMER_GRID_MS boundary of the process clock
 * at or after `delayMs`. Heartbeat and election timers of many groups then fire in the same
 * event-loop turn, and their messages to one peer leave in one write (see CorkedWriter): with
 * hundreds of groups per process this is most of the idle cost. Raft timers tolerate the
 * few milliseconds of lateness.
 */
export function alignedDelayMs(nowMs: number, delayMs: number): number {
  if (delayMs < ALIGN_TIMERS_FROM_MS) return Math.max(0, delayMs);
  return Math.ceil((nowMs + delayMs) / TIMER_GRID_MS) * TIMER_GRID_MS - nowMs;
}

/** The real environment: performance.now, setTimeout (long ones aligned) and Math.random. */
export const realEnv: Env = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, alignedDelayMs(performance.now(), delayMs));
    return () => clearTimeout(handle);
  },
  random: () => Math.random(),
};
