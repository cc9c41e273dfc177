/**
 * `npm run sim -- --seed N` replays one run; `npm run sim -- --seeds K` runs K random seeds and
 * ends with `seeds=K violations=V` (exit code 1 when V > 0).
 */
import { parseArgs } from "node:util";
import { runSimulation, type SimRunResult } from "./sim-run.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string" },
    nodes: { type: "string" },
    "duration-ms": { type: "string" },
    verbose: { type: "boolean", default: false },
  },
});

function integerFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer, got "${text}"`);
    process.exit(2);
  }
  return value;
}

function describe(result: SimRunResult): string {
  return (
    `seed=${result.seed} nodes=${result.nodes} applied=${result.appliedEntries} acked=${result.acknowledged} ` +
    `faults=${result.faults} virtual_ms=${result.virtualMs.toFixed(0)} violations=${result.violations.length}`
  );
}

async function main(): Promise<void> {
  const nodes = integerFlag("nodes", values.nodes);
  const durationMs = integerFlag("duration-ms", values["duration-ms"]);
  const single = integerFlag("seed", values.seed);
  const log = values.verbose ? (line: string) => console.log(`  ${line}`) : undefined;
  const seeds =
    single !== undefined
      ? [single]
      : Array.from({ length: integerFlag("seeds", values.seeds) ?? 1 }, () =>
          Math.floor(Math.random() * 2 ** 31),
        );
  let violations = 0;
  for (const seed of seeds) {
    const result = await runSimulation({ seed, nodes, durationMs, log });
    if (result.violations.length > 0 || single !== undefined) console.log(describe(result));
    for (const violation of result.violations) console.log(`  violation: ${violation}`);
    if (result.violations.length > 0) {
      violations += result.violations.length;
      console.log(`  replay: npm run sim -- --seed ${seed}${nodes === undefined ? "" : ` --nodes ${nodes}`}`);
    }
  }
  console.log(`seeds=${seeds.length} violations=${violations}`);
  process.exitCode = violations > 0 ? 1 : 0;
}

await main();
