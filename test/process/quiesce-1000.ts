/**
 * The quiescence scenario with 1,000 groups on three processes (too long for `npm test`), with
 * the bench's election timeout of 5000 ms (1000 ms made 1,000 simultaneous elections on the shared
 * 2-core machine miss a 30 s deadline): `node dist/test/process/quiesce-1000.js [groups]`.
 */
import { runQuiesceScenario } from "./quiesce-groups.js";

const groups = Number(process.argv[2] ?? "1000");
const result = await runQuiesceScenario(groups, 5000, 120_000);
console.log(
  `quiesce ${groups} groups: start+first writes ${result.startMs.toFixed(0)} ms, all quiet after ` +
    `${result.quietAfterMs.toFixed(0)} ms, every group led again ${result.reelectedAfterKillMs.toFixed(0)} ms after the kill`,
);
