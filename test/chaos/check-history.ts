/**
 * Re-checks a history a chaos run kept (it writes one when the verdict is not `true`):
 *
 *   node dist/test/chaos/check-history.js <history.json> [--max-steps N]
 *
 * Prints the same summary as the run, per key, and the failing sub-history if there is one.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkLinearizability, formatHistory, type RegisterOperation } from "../../src/testing/index.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { "max-steps": { type: "string" } },
});
const [file] = positionals;
if (file === undefined) {
  console.error("usage: check-history <history.json> [--max-steps N]");
  process.exit(2);
}
// The run writes bigints as strings ending in "n".
const history = JSON.parse(readFileSync(file, "utf8"), (_, v: unknown) =>
  typeof v === "string" && /^-?\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v,
) as RegisterOperation[];
const started = performance.now();
const maxSteps = values["max-steps"] === undefined ? undefined : Number(values["max-steps"]);
const result = checkLinearizability(history, { maxSteps });
const checkMs = Math.round(performance.now() - started);
for (const key of result.keys) {
  console.log(`key ${key.key}: ${key.operations} ops, ${key.steps} steps, ${String(key.verdict)}`);
}
console.log(`ops=${history.length} linearizable=${result.linearizable} check_ms=${checkMs}`);
if (result.linearizable === false) {
  console.log(formatHistory(result.counterexample ?? [], result.context ?? []));
}
process.exit(result.linearizable === true ? 0 : 1);
