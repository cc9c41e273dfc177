/**
 * The chaos run of the atomic example (docs/testing.md): 60 seconds of nemeses against five
 * processes, then convergence and a linearizability check of every client call, lease reads on
 * the leader and ReadIndex reads on followers included. The seed is fixed, so CI runs the same
 * faults every time (TSRAFT_CHAOS_SEED=N picks another); `npm run chaos -- --seed N --time 60`
 * replays them. A shorter run fits a slow machine: TSRAFT_CHAOS_S=20 npm test.
 *
 * Checking the checker: with servers answering gets from their local maps and clients reading
 * from any server, the run must find a violation.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChaos } from "./chaos-run.js";

const timeS = Number(process.env["TSRAFT_CHAOS_S"] ?? 60);
/** The seed of the run inside `npm test`: fixed, so a failure in CI replays. */
const CI_SEED = 4244;

test(`Chaos: ${timeS} s of faults against five atomic servers, with lease and follower reads, stay linearizable and converge`, async () => {
  const seed = Number(process.env["TSRAFT_CHAOS_SEED"] ?? CI_SEED);
  const lines: string[] = [];
  const result = await runChaos({
    timeS,
    seed,
    leaseReads: true,
    followerReads: true,
    log: (line) => lines.push(line),
  });
  const story = `seed ${seed} (npm run chaos -- --seed ${seed} --time ${timeS})\n${lines.join("\n")}\n${result.report}`;
  console.log(`chaos seed ${seed}: ${result.report.split("\n")[0]}`);
  assert.notEqual(result.linearizable, false, story);
  assert.ok(result.converged, story);
  assert.ok(result.ok > 100, `only ${result.ok} operations succeeded\n${story}`);
  assert.ok((result.reads?.lease ?? 0) > 0, `no lease read was served\n${story}`);
  assert.ok((result.reads?.follower ?? 0) > 0, `no follower read was served\n${story}`);
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
