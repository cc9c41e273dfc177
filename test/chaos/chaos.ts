/**
 * `npm run chaos -- [--time 60] [--seed N] [--nemeses kill-9,sigstop,...] [--lease on|off]
 * [--follower-reads on|off] [--verbose]`: a chaos run of the atomic example (see chaos-run.ts and
 * docs/testing.md). Lease reads on the leader and ReadIndex reads on followers are on by default.
 * Prints what each nemesis did, then `ops=N ok=A fail=B unknown=C linearizable=... converged=...`;
 * exits non-zero on a linearizability violation or when the nodes do not converge.
 */
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
  },
});

function onOff(name: string, text: string): boolean {
  if (text !== "on" && text !== "off") {
    console.error(`--${name} takes on or off, got "${text}"`);
    process.exit(2);
  }
  return text === "on";
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
  log: (line) => console.log(line),
});
console.log(result.report);
process.exitCode = result.linearizable === false || !result.converged ? 1 : 0;
