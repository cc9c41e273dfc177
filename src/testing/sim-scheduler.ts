/**
 * Virtual time for the simulator. Every timer of every simulated node, every network delivery
 * and every disk completion is an event here; the run loop pops them in (time, insertion)
 * order and lets all promise chains settle between two events, so a run is a pure function of
 * its seed.
 */
import type { CancelTimer } from "../env/env.js";

/** Bounds that turn a livelock into a clear failure instead of a hung test. */
export interface SimSchedulerOptions {
  /** Events one runFor/runUntil call may run; bounds a simulation that never goes idle. */
  readonly maxEventsPerRun?: number;
  /**
   * Events that may run without virtual time advancing; a timer that re-arms itself with
   * delay 0 would otherwise spin forever at one instant.
   */
  readonly maxEventsPerInstant?: number;
}

interface SimEvent {
  readonly atMs: number;
  readonly seq: number;
  callback: (() => void) | undefined;
}

const DEFAULT_MAX_EVENTS_PER_RUN = 10_000_000;
const DEFAULT_MAX_EVENTS_PER_INSTANT = 100_000;

/** Lets every queued microtask (and nextTick) run: setImmediate fires only after they drain. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A deterministic discrete-event scheduler over virtual milliseconds starting at 0. */
export class SimScheduler {
  readonly #heap: SimEvent[] = [];
  readonly #maxEventsPerRun: number;
  readonly #maxEventsPerInstant: number;
  #nowMs = 0;
  #seq = 0;
  #pending = 0;
  #eventsRun = 0;
  #running = false;
  #instantMs = -1;
  #eventsThisInstant = 0;
  /**
   * Runs after every event and the microtasks it started (the safety checkers hook in here, so
   * a violation is caught at the event that caused it). Must not schedule work of its own.
   */
  afterEvent: (() => void) | undefined;

  constructor(options: SimSchedulerOptions = {}) {
    this.#maxEventsPerRun = options.maxEventsPerRun ?? DEFAULT_MAX_EVENTS_PER_RUN;
    this.#maxEventsPerInstant = options.maxEventsPerInstant ?? DEFAULT_MAX_EVENTS_PER_INSTANT;
  }

  /** Virtual milliseconds since the start of the simulation. */
  get nowMs(): number {
    return this.#nowMs;
  }

  /** Scheduled events not yet run nor cancelled. */
  get pendingEvents(): number {
    return this.#pending;
  }

  /** Events run since the scheduler was created. */
  get eventsRun(): number {
    return this.#eventsRun;
  }

  /**
   * Runs `callback` `delayMs` from now (negative delays count as 0). Events at the same
   * instant run in the order they were scheduled.
   */
  schedule(delayMs: number, callback: () => void): CancelTimer {
    if (Number.isNaN(delayMs)) throw new RangeError("SimScheduler.schedule: delayMs is NaN");
    const event: SimEvent = { atMs: this.#nowMs + Math.max(0, delayMs), seq: this.#seq++, callback };
    heapPush(this.#heap, event);
    this.#pending++;
    return () => {
      // Lazy deletion: the event stays in the heap and is skipped when popped.
      if (event.callback === undefined) return;
      event.callback = undefined;
      this.#pending--;
    };
  }

  /** Runs every event due in the next `ms` virtual milliseconds, then sets time to the end. */
  async runFor(ms: number): Promise<void> {
    const deadlineMs = this.#nowMs + Math.max(0, ms);
    await this.#run(deadlineMs, () => false);
    this.#nowMs = Math.max(this.#nowMs, deadlineMs);
  }

  /**
   * Runs events until `predicate` holds (checked first, then after each event and its
   * microtasks) or `maxMs` of virtual time pass. Returns whether the predicate held; time is
   * left at the instant it first held, or at the deadline.
   */
  async runUntil(predicate: () => boolean, maxMs: number): Promise<boolean> {
    const deadlineMs = this.#nowMs + Math.max(0, maxMs);
    const held = await this.#run(deadlineMs, predicate);
    if (!held) this.#nowMs = Math.max(this.#nowMs, deadlineMs);
    return held;
  }

  async #run(deadlineMs: number, predicate: () => boolean): Promise<boolean> {
    if (this.#running) throw new Error("SimScheduler: runFor/runUntil called while already running");
    this.#running = true;
    try {
      // Work the caller started between runs (a resolved promise, say) must schedule its
      // events at this instant, before any later event runs.
      await drainMicrotasks();
      if (predicate()) return true;
      let eventsThisRun = 0;
      for (;;) {
        const event = this.#popDue(deadlineMs);
        if (event === undefined) return false;
        this.#countEvent(++eventsThisRun);
        event();
        await drainMicrotasks();
        this.afterEvent?.();
        if (predicate()) return true;
      }
    } finally {
      this.#running = false;
    }
  }

  /** Pops the next live event due by `deadlineMs`, advancing time to it. */
  #popDue(deadlineMs: number): (() => void) | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.atMs > deadlineMs) return undefined;
      heapPop(this.#heap);
      const callback = top.callback;
      if (callback === undefined) continue;
      top.callback = undefined;
      this.#pending--;
      this.#nowMs = top.atMs;
      return callback;
    }
  }

  #countEvent(eventsThisRun: number): void {
    this.#eventsRun++;
    if (eventsThisRun > this.#maxEventsPerRun) {
      throw new Error(
        `SimScheduler: more than ${this.#maxEventsPerRun} events in one run (at ${this.#nowMs} ms); ` +
          "the simulation never goes idle — raise maxEventsPerRun or look for a runaway loop",
      );
    }
    if (this.#instantMs !== this.#nowMs) {
      this.#instantMs = this.#nowMs;
      this.#eventsThisInstant = 0;
    }
    if (++this.#eventsThisInstant > this.#maxEventsPerInstant) {
      throw new Error(
        `SimScheduler: more than ${this.#maxEventsPerInstant} events at ${this.#nowMs} ms without ` +
          "time advancing; something re-schedules itself with delay 0",
      );
    }
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function heapPush(heap: SimEvent[], event: SimEvent): void {
  heap.push(event);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent] as SimEvent;
    if (!before(event, p)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = event;
}

function heapPop(heap: SimEvent[]): void {
  const last = heap.pop();
  if (last === undefined || heap.length === 0) return;
  let i = 0;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= heap.length) break;
    const right = left + 1;
    const l = heap[left] as SimEvent;
    const r = heap[right];
    const child = r !== undefined && before(r, l) ? right : left;
    const c = heap[child] as SimEvent;
    if (!before(c, last)) break;
    heap[i] = c;
    i = child;
  }
  heap[i] = last;
}
