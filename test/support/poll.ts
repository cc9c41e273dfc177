/**
 * The one polling loop of the wall-clock tests: they wait for a condition with a deadline and
 * never sleep and hope. Timing itself is asserted only in the simulator.
 */

/** What a probe answers: a value (done), or `undefined`/`false` (not yet). */
export type Probe<T> = () => T | undefined | false | Promise<T | undefined | false>;

export interface PollOptions {
  /** Fails with "timed out ... waiting for <what>" after this long. */
  readonly timeoutMs?: number;
  /** Pause between probes. */
  readonly intervalMs?: number;
  /** A probe that throws counts as "not yet" (a server still starting); the last error is reported. */
  readonly errorsMeanNotYet?: boolean;
}

/** Polls `probe` until it answers a value, which it resolves with. */
export async function pollUntil<T>(what: string, probe: Probe<T>, options: PollOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 5, errorsMeanNotYet = false } = options;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (!errorsMeanNotYet) throw error;
      lastError = error;
    }
    if (performance.now() > deadline) {
      const cause = lastError === undefined ? "" : ` (last error: ${String(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
