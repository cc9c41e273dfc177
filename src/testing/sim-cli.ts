/**
 * `npm run sim -- --seed N` replays one run; `npm run sim -- --seeds K [--base B]` runs the K
 * seeds B, B+1, ..., B+K-1 (B is 1 by default and always printed, so every search replays) and
 * ends with `seeds=K violations=V` (exit code 1 when V > 0). `--lease on|off` forces the leader
 * lease; otherwise each seed draws it; `--quiescence on|off` likewise forces quiescent groups. `--without vote,resetTimeout,...` never injects those faults
 * (the seed draws them all the same, so the rest of the run stays comparable) and
 * `--perfect-clocks` turns clock drift off: together they tell which fault a finding needs.
 * `--fs-adaptor` keeps every snapshot in a MemoryFileSystemAdaptor through local:// storage.
 * `--groups G` runs G Raft groups on every simulated process (otherwise the seed draws 1, 4 or
 * 16); `--verbose` then also prints every change of a group's leader.
 */
import { parseArgs } from "node:util";
import { runSimulation, type SimRunResult } from "./sim-run.js";
import { NEMESIS_KINDS } from "./sim-nemesis.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seeds: { type: "string" },
    base: { type: "string" },
    lease: { type: "string" },
    quiescence: { type: "string" },
    without: { type: "string" },
    "perfect-clocks": { type: "boolean", default: false },
    "fs-adaptor": { type: "boolean", default: false },
    nodes: { type: "string" },
    groups: { type: "string" },
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
    `seed=${result.seed} nodes=${result.nodes} groups=${result.groups} lease=${result.lease} learner=${result.learner} witness=${result.witness} ` +
    `quiescence=${result.quiescence} ` +
    `applied=${result.appliedEntries} acked=${result.acknowledged} reads=${JSON.stringify(result.reads)} ` +
    `faults=${result.faults} events=${result.events} virtual_ms=${result.virtualMs.toFixed(0)} ` +
    `violations=${result.violations.length}`
  );
}

async function main(): Promise<void> {
  const nodes = integerFlag("nodes", values.nodes);
  const groups = integerFlag("groups", values.groups);
  if (groups === 0) {
    console.error("--groups must be at least 1");
    process.exit(2);
  }
  const durationMs = integerFlag("duration-ms", values["duration-ms"]);
  const single = integerFlag("seed", values.seed);
  const log = values.verbose ? (line: string) => console.log(`  ${line}`) : undefined;
  const base = integerFlag("base", values.base) ?? 1;
  const lease = values.lease === undefined ? undefined : values.lease === "on";
  const quiescence = values.quiescence === undefined ? undefined : values.quiescence === "on";
  const without = new Set((values.without ?? "").split(",").filter((kind) => kind !== ""));
  for (const kind of without) {
    if (!(NEMESIS_KINDS as readonly string[]).includes(kind)) {
      console.error(`--without: unknown nemesis "${kind}"; known: ${[...new Set(NEMESIS_KINDS)].join(",")}`);
      process.exit(2);
    }
  }
  const perfectClocks = values["perfect-clocks"];
  const snapshotFileSystem = values["fs-adaptor"];
  const seeds =
    single !== undefined
      ? [single]
      : Array.from({ length: integerFlag("seeds", values.seeds) ?? 1 }, (_, i) => base + i);
  if (single === undefined)
    console.log(`base=${base} seeds=${seeds.length} (seeds ${base}..${base + seeds.length - 1})`);
  let violations = 0;
  let failingSeeds = 0;
  /** Seeds run per groups-per-process count, for the summary line. */
  const byGroups = new Map<number, number>();
  const startedMs = performance.now();
  for (const seed of seeds) {
    const result = await runSimulation({
      seed,
      nodes,
      groups,
      durationMs,
      lease,
      quiescence,
      without,
      perfectClocks,
      snapshotFileSystem,
      log,
    });
    byGroups.set(result.groups, (byGroups.get(result.groups) ?? 0) + 1);
    if (result.violations.length > 0) failingSeeds++;
    if (result.violations.length > 0 || single !== undefined) console.log(describe(result));
    for (const violation of result.violations) console.log(`  violation: ${violation}`);
    if (result.violations.length > 0) {
      violations += result.violations.length;
      console.log(
        `  replay: npm run sim -- --seed ${seed}${nodes === undefined ? "" : ` --nodes ${nodes}`}` +
          `${groups === undefined ? "" : ` --groups ${groups}`}` +
          `${durationMs === undefined ? "" : ` --duration-ms ${durationMs}`}${lease === undefined ? "" : ` --lease ${values.lease}`}` +
          `${quiescence === undefined ? "" : ` --quiescence ${values.quiescence}`}` +
          `${without.size === 0 ? "" : ` --without ${values.without}`}${perfectClocks ? " --perfect-clocks" : ""}` +
          `${snapshotFileSystem ? " --fs-adaptor" : ""}`,
      );
    }
  }
  const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
  console.log(
    `base=${base} seeds=${seeds.length} failing_seeds=${failingSeeds} violations=${violations} wall_s=${seconds} ` +
      `groups=${[...byGroups]
        .sort(([a], [b]) => a - b)
        .map(([g, n]) => `${g}:${n}`)
        .join(",")}`,
  );
  process.exitCode = violations > 0 ? 1 : 0;
}

await main();
