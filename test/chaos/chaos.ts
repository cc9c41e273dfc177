/**
 * `npm run chaos -- [--time 60] [--seed N] [--nemeses kill-9,sigstop,...] [--lease on|off]
 * [--follower-reads on|off] [--braft N [--braft-bin DIR]] [--verbose]`: a chaos run of the atomic
 * example (see chaos-run.ts and docs/testing.md). Lease reads on the leader and ReadIndex reads on
 * followers are on by default. `--braft N` runs N of the five nodes as braft's own atomic_server
 * (from DIR, TSRAFT_BRAFT_BIN or ../shared/braft/bin); it fails with the reason when it cannot.
 * Prints what each nemesis did, then `ops=N ok=A fail=B unknown=C linearizable=... converged=...`;
 * exits non-zero on a linearizability violation or when the nodes do not converge.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runChaos } from "./chaos-run.js";

const { values } = parseArgs({
  options: {
    time: { type: "string", default: "60" },
    seed: { type: "string" },
    clients: { type: "string", default: "8" },
    keys: { type: "string", default: "4" },
    verbose: { type: "boolean", default: false },
    nemeses: { type: "string" },
    "election-timeout-ms": { type: "string", default: "1000" },
    "client-timeout-ms": { type: "string", default: "2000" },
    "unsafe-local-reads": { type: "boolean", default: false },
    lease: { type: "string", default: "on" },
    "follower-reads": { type: "string", default: "on" },
    braft: { type: "string", default: "0" },
    "braft-bin": { type: "string" },
  },
});

function onOff(name: string, text: string): boolean {
  if (text !== "on" && text !== "off") {
    console.error(`--${name} takes on or off, got "${text}"`);
    process.exit(2);
  }
  return text === "on";
}

if (!/^\d+$/.test(values.braft)) {
  console.error(`--braft takes how many nodes run braft's atomic_server, got "${values.braft}"`);
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
console.log(`chaos: seed=${seed} (replay the same faults with --seed ${seed})`);
const result = await runChaos({
  timeS: Number(values.time),
  seed,
  clients: Number(values.clients),
  keys: Number(values.keys),
  verbose: values.verbose,
  nemeses: values.nemeses?.split(","),
  electionTimeoutMs: Number(values["election-timeout-ms"]),
  clientTimeoutMs: Number(values["client-timeout-ms"]),
  unsafeLocalReads: values["unsafe-local-reads"],
  leaseReads: onOff("lease", values.lease),
  followerReads: onOff("follower-reads", values["follower-reads"]),
  braft: Number(values.braft),
  braftBinDir: values["braft-bin"] === undefined ? undefined : resolve(values["braft-bin"]),
  log: (line) => console.log(line),
}).catch((error: unknown) => {
  // A setup failure (braft's binary or a C compiler missing): its reason, not a stack.
  console.error(`chaos: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
});
console.log(result.report);
process.exitCode = result.linearizable === false || !result.converged ? 1 : 0;
