/**
 * braft's SnapshotThrottle: bounds the disk and network bandwidth snapshot copies take, so an
 * install does not starve the log's fsyncs and AppendEntries on the same machine. The leader's
 * file service and the follower's copier both draw from a throttle (braft:
 * `raft_enable_throttle_when_install_snapshot`); it also counts concurrent installs
 * (`raft_max_install_snapshot_tasks_num`).
 */
import { RaftError } from "../core/errors.js";
import type { Env } from "../env/env.js";

/** The time source of the copy machinery: injected so throttle and expiry tests need no sleeps. */
export type CopyClock = Pick<Env, "nowMs" | "setTimer">;

/**
 * The real clock. Its timers are unref'd: a pending throttle wait or reader-expiry sweep must not
 * keep a process alive that has nothing else to do.
 */
export const realCopyClock: CopyClock = {
  nowMs: () => performance.now(),
  setTimer(callback, delayMs) {
    const handle = setTimeout(callback, Math.max(0, delayMs));
    handle.unref();
    return () => clearTimeout(handle);
  },
};

/** Resolves after `ms` on `clock`; rejects with ECANCELED as soon as `signal` aborts. */
export function sleep(clock: CopyClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(new RaftError("ECANCELED", "snapshot copy cancelled", { cause: signal.reason }));
      return;
    }
    const onAbort = (): void => {
      cancel();
      reject(new RaftError("ECANCELED", "snapshot copy cancelled", { cause: signal?.reason }));
    };
    const cancel = clock.setTimer(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The least a copy needs from a throttle: `acquire` resolving once `bytes` may be moved (the
 * node's SnapshotThrottle port, in src/node/ports.ts, has just that). The copier uses the
 * optional members when present: a partial grant per request (braft's way, so one chunk need
 * not wait for several cycles) and giving unused bytes back.
 */
export interface CopyThrottle {
  acquire(bytes: number, signal?: AbortSignal): Promise<unknown>;
  /** Waits until at least one byte is granted; resolves with the grant (<= `bytes`). */
  acquireUpTo?(bytes: number, signal?: AbortSignal): Promise<number>;
  /** See {@link SnapshotThrottle.returnUnusedThroughput}. */
  returnUnusedThroughput?(acquired: number, consumed: number, elapsedMs: number): void;
  /** How long a copier waits after a throttled leader answered EAGAIN. */
  readonly retryIntervalMs?: number;
}

/** What the file service and the copier need from a throttle (braft's SnapshotThrottle). */
export interface SnapshotThrottle extends CopyThrottle {
  /** Grants up to `bytes` now (possibly fewer, possibly 0) and counts them as used. */
  throttledByThroughput(bytes: number): number;
  /**
   * Gives back the part of a grant that was not used (a short read, a failed RPC), so the next
   * request of this cycle can have it. `elapsedMs` is the time since the grant, on the
   * throttle's clock.
   */
  returnUnusedThroughput(acquired: number, consumed: number, elapsedMs: number): void;
  /** How long a caller refused with 0 bytes waits before asking again. */
  readonly retryIntervalMs: number;
  /** Waits until all of `bytes` are granted, across as many cycles as that takes. */
  acquire(bytes: number, signal?: AbortSignal): Promise<void>;
  acquireUpTo(bytes: number, signal?: AbortSignal): Promise<number>;
  /** Admits one more install on a follower; false when the limit is reached (leaders: always true). */
  addOneMoreTask(isLeader: boolean): boolean;
  /** Ends an install admitted by {@link addOneMoreTask}. */
  finishOneTask(isLeader: boolean): void;
}

/** Options of {@link ThroughputSnapshotThrottle}. */
export interface ThroughputSnapshotThrottleOptions {
  readonly clock?: CopyClock | undefined;
  /** braft's raft_max_install_snapshot_tasks_num: concurrent installs on followers (1000). */
  readonly maxInstallSnapshotTasks?: number | undefined;
  /** braft's raft_minimal_throttle_threshold_mb: a floor under the configured throughput (0). */
  readonly minimalThrottleThresholdMb?: number | undefined;
}

/**
 * braft's ThroughputSnapshotThrottle: `throughputBytesPerS` split into `checkCycle` cycles per
 * second; each cycle grants at most `throughputBytesPerS / checkCycle` bytes. Same arithmetic as
 * braft (in ms instead of µs), including its leniency: a request in the current cycle gets what
 * is left of it, a request after it opens a new cycle.
 */
export class ThroughputSnapshotThrottle implements SnapshotThrottle {
  private readonly clock: CopyClock;
  private readonly cycleMs: number;
  private readonly maxTasks: number;
  private readonly floorBytesPerS: number;
  private lastCheckMs: number;
  private cycleBytes = 0;
  private tasks = 0;

  constructor(
    readonly throughputBytesPerS: number,
    readonly checkCycle: number,
    options: ThroughputSnapshotThrottleOptions = {},
  ) {
    if (!(throughputBytesPerS > 0) || !Number.isInteger(checkCycle) || checkCycle < 1) {
      throw new RaftError(
        "EINVAL",
        `invalid throttle: ${throughputBytesPerS} bytes/s in ${checkCycle} cycles per second`,
      );
    }
    this.clock = options.clock ?? realCopyClock;
    this.cycleMs = 1000 / checkCycle;
    this.maxTasks = options.maxInstallSnapshotTasks ?? 1000;
    this.floorBytesPerS = (options.minimalThrottleThresholdMb ?? 0) * 1024 * 1024;
    this.lastCheckMs = this.cycleStart(this.clock.nowMs());
  }

  /** braft's get_retry_interval_ms: just over one cycle, when the next grant can come. */
  get retryIntervalMs(): number {
    return Math.floor(1000 / this.checkCycle) + 1;
  }

  throttledByThroughput(bytes: number): number {
    const now = this.clock.nowMs();
    const limit = Math.floor(Math.max(this.throughputBytesPerS, this.floorBytesPerS) / this.checkCycle);
    if (this.cycleBytes + bytes <= limit) {
      this.cycleBytes += bytes;
      return bytes;
    }
    if (now - this.lastCheckMs <= this.cycleMs) {
      // Still in the current cycle: hand out what is left of it.
      const available = Math.max(0, limit - this.cycleBytes);
      this.cycleBytes = limit;
      return available;
    }
    // A new cycle starts with this request.
    const available = Math.min(bytes, limit);
    this.cycleBytes = available;
    this.lastCheckMs = this.cycleStart(now);
    return available;
  }

  returnUnusedThroughput(acquired: number, consumed: number, elapsedMs: number): void {
    // A grant from an earlier cycle is not given back: that cycle's budget is gone already.
    if (this.clock.nowMs() - elapsedMs < this.lastCheckMs) return;
    this.cycleBytes = Math.max(0, this.cycleBytes - (acquired - consumed));
  }

  async acquire(bytes: number, signal?: AbortSignal): Promise<void> {
    for (let left = bytes; left > 0;) left -= await this.acquireUpTo(left, signal);
  }

  async acquireUpTo(bytes: number, signal?: AbortSignal): Promise<number> {
    for (;;) {
      if (signal?.aborted === true) throw new RaftError("ECANCELED", "snapshot copy cancelled");
      const granted = this.throttledByThroughput(bytes);
      if (granted > 0) return granted;
      await sleep(this.clock, this.retryIntervalMs, signal);
    }
  }

  addOneMoreTask(isLeader: boolean): boolean {
    // braft does not throttle leaders: the follower side decides how many installs it takes.
    if (isLeader) return true;
    if (this.tasks >= this.maxTasks) return false;
    this.tasks++;
    return true;
  }

  finishOneTask(isLeader: boolean): void {
    if (isLeader) return;
    if (this.tasks <= 0) throw new RaftError("EINVAL", "finishOneTask without a matching addOneMoreTask");
    this.tasks--;
  }

  /** Installs admitted and not finished. */
  get taskCount(): number {
    return this.tasks;
  }

  /** braft's caculate_check_time_us: the start of the cycle `nowMs` falls in. */
  private cycleStart(nowMs: number): number {
    return Math.floor(nowMs / this.cycleMs) * this.cycleMs;
  }
}
