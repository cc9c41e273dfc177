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

/** Timers shorter than this fire exactly, on their own setTimeout. */
const SHARED_SLOTS_FROM_MS = 20;
/** The coarsest slot a long timer is rounded to. */
const SLOT_MAX_MS = 100;

/**
 * The slot (a time on the process clock) a timer of `delayMs` set at `nowMs` fires in: the next
 * boundary of a grid of a fifth of the delay, at most 100 ms. A heartbeat every 500 ms fires up
 * to 100 ms late; an election timeout randomized over 1-2 s keeps 10 distinct slots, as etcd's
 * 100-ms ticks do. A coarser grid puts more groups' heartbeats in one slot: with 300 groups on
 * three processes, a grid of a fifth (at most 100 ms) instead of a tenth (at most 50 ms) cut the
 * idle CPU by a third (sum over the processes 18.1-20.6% -> 12.4-13.3%), because each wake-up of
 * a process costs far more than one more message in it.
 */
function timerSlot(nowMs: number, delayMs: number): number {
  const grid = Math.min(SLOT_MAX_MS, Math.floor(delayMs / 5));
  return Math.ceil((nowMs + delayMs) / grid) * grid;
}

/**
 * Long timers share one setTimeout per slot: the heartbeat and election timers of many groups
 * run in one callback, in one event-loop turn, and their messages to one peer leave in one write
 * (see CorkedWriter). With hundreds of groups per process, wake-ups and writes are most of the
 * idle cost. Raft timers tolerate the lateness; leases count from send times.
 */
const slots = new Map<number, { readonly callbacks: Set<() => void>; readonly handle: NodeJS.Timeout }>();

function runSlot(slot: number): void {
  const entry = slots.get(slot);
  slots.delete(slot);
  for (const callback of entry?.callbacks ?? []) {
    try {
      callback();
    } catch (error) {
      // As if thrown by its own timer: the process sees it, the other timers still run.
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}

function setSlottedTimer(callback: () => void, delayMs: number): CancelTimer {
  const now = performance.now();
  const slot = timerSlot(now, delayMs);
  let entry = slots.get(slot);
  if (entry === undefined) {
    entry = { callbacks: new Set(), handle: setTimeout(() => runSlot(slot), slot - now) };
    slots.set(slot, entry);
  }
  const { callbacks, handle } = entry;
  // Each timer gets its own function, so one callback set twice runs twice, as with setTimeout.
  const once = (): void => callback();
  callbacks.add(once);
  return () => {
    callbacks.delete(once);
    if (callbacks.size === 0 && slots.get(slot)?.handle === handle) {
      clearTimeout(handle);
      slots.delete(slot);
    }
  };
}

/** The real environment: performance.now, setTimeout (long ones in shared slots) and Math.random. */
export const realEnv: Env = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    if (delayMs < SHARED_SLOTS_FROM_MS) {
      const handle = setTimeout(callback, Math.max(0, delayMs));
      return () => clearTimeout(handle);
    }
    return setSlottedTimer(callback, delayMs);
  },
  random: () => Math.random(),
};
