/**
 * The clock of one simulated machine: it survives the process's crashes (a restart reads the same
 * clock) and differs from every other machine's in offset and in rate, and the machine can be
 * paused. The model is the one the leader lease assumes (see docs/simulation.md, "Clocks"):
 *
 * - local time = offset + (1 + rate) x (virtual time spent running);
 * - |rate| <= `maxRate`, chosen by the cluster so that an election timeout plus the clock-drift
 *   allowance measured on any follower's clock lasts at least as long, in real time, as a
 *   leader's election timeout measured on the leader's clock;
 * - a pause (a stopped process, a long GC, a VM migration) lets real time pass while nothing of
 *   the process runs: its timers and the messages it would receive wait for the end of the pause,
 *   and then its clock shows the whole pause at once (a forward jump that is real time passing).
 *
 * A clock that jumps forward WITHOUT real time passing is outside the model: a follower whose
 * clock leapt ahead would grant a vote before the old leader's lease ran out in real time, which
 * no lease can survive. So the simulator's jumps are pauses.
 */

export class SimClock {
  /** Virtual time before which the machine is paused (nothing of it runs). */
  pausedUntilMs = 0;

  constructor(
    /** The machine's clock reading at virtual time 0. */
    readonly offsetMs: number,
    /** Relative rate error: local time advances (1 + rate) ms per virtual ms. */
    readonly rate: number,
  ) {
    if (rate <= -1) throw new RangeError(`SimClock: rate ${rate} would stop or reverse time`);
  }

  /** The machine's clock reading at virtual time `virtualMs` (monotonic). */
  localMs(virtualMs: number): number {
    return this.offsetMs + virtualMs * (1 + this.rate);
  }

  /** How much virtual time passes while this clock advances `localMs`. */
  virtualDelayMs(localMs: number): number {
    return localMs / (1 + this.rate);
  }

  /** Whether the machine is paused at virtual time `virtualMs`. */
  paused(virtualMs: number): boolean {
    return virtualMs < this.pausedUntilMs;
  }

  /** Pauses the machine from `virtualMs` for `durationMs` (extending a pause in progress). */
  pause(virtualMs: number, durationMs: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, virtualMs + durationMs);
  }
}

/**
 * The largest rate error that keeps the lease safe. The leader's lease lasts `leaderTimeoutMs`
 * on its clock, which runs at most (1 - rate) slow: `leaderTimeoutMs / (1 - rate)` of real time.
 * A voter refuses votes for `electionTimeoutMs + maxClockDriftMs` on its clock, running at most
 * (1 + rate) fast: `(electionTimeoutMs + maxClockDriftMs) / (1 + rate)` of real time. Safe when
 * the second is at least the first; `leaderTimeoutMs` is the longest election timeout a leader
 * may be given at run time (see the nemesis: within half the drift allowance).
 */
export function maxSafeClockRate(
  electionTimeoutMs: number,
  maxClockDriftMs: number,
  leaderTimeoutMs: number,
): number {
  const follower = electionTimeoutMs + maxClockDriftMs;
  return Math.max(0, (follower - leaderTimeoutMs) / (follower + leaderTimeoutMs));
}
