/**
 * Quiescent groups on real processes (docs/quiescence.md): 30 groups on three tsraft servers go
 * quiet, wake on a write, and after one process is killed with SIGKILL every group elects on the
 * two others and takes writes again. quiesce-1000.ts runs the same with 1,000 groups (100 groups
 * took 48 s on the shared 2-core machine, over the budget of one test in `npm test`).
 */
import { test } from "node:test";
import { runQuiesceScenario } from "./quiesce-groups.js";

test("QuiesceManyGroups: 30 groups on three processes go quiet, wake on a write, and all elect again after a kill -9", async () => {
  const result = await runQuiesceScenario(30);
  console.log(
    `quiesce 30 groups: start+first writes ${result.startMs.toFixed(0)} ms, all quiet after ` +
      `${result.quietAfterMs.toFixed(0)} ms, every group led again ${result.reelectedAfterKillMs.toFixed(0)} ms after the kill`,
  );
});
