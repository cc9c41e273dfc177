/**
 * The chaos run of the atomic example (docs/testing.md): 60 seconds of nemeses against five
 * processes, then convergence and a linearizability check of every client call. The seed is
 * printed; `npm run chaos -- --seed N --time 60` replays the same faults. A shorter run fits a
 * slow machine: TSRAFT_CHAOS_S=20 npm test.
 *
 * Checking the checker: with servers answering gets from their local maps and clients reading
 * from any server, the run must find a violation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaos } from "./chaos-run.js";

const timeS = Number(process.env["TSRAFT_CHAOS_S"] ?? 60);

test(`Chaos: ${timeS} s of faults against five atomic servers stay linearizable and converge`, async () => {
  const seed = Number(process.env["TSRAFT_CHAOS_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
  const lines: string[] = [];
  const result = await runChaos({ timeS, seed, log: (line) => lines.push(line) });
  const story = `seed ${seed} (npm run chaos -- --seed ${seed} --time ${timeS})\n${lines.join("\n")}\n${result.report}`;
  console.log(result.report.split("\n")[0]);
  assert.notEqual(result.linearizable, false, story);
  assert.ok(result.converged, story);
  assert.ok(result.ok > 100, `only ${result.ok} operations succeeded\n${story}`);
});

test("ChaosCatchesStaleReads: reads served from local state are found non-linearizable", async () => {
  const result = await runChaos({
    timeS: 15,
    seed: 3,
    unsafeLocalReads: true,
    nemeses: ["sigstop", "isolate-leader", "partition-halves"],
  });
  assert.equal(result.linearizable, false, result.report);
});
