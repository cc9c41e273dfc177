/**
 * `npm run interop [-- --braft-bin=DIR]`: runs test/interop/*.interop.js with node --test. The
 * directory of braft's binaries comes from --braft-bin, else TSRAFT_BRAFT_BIN, else
 * ../shared/braft/bin beside the repository; without them every scenario skips with the reason.
 * The files are not named *.test.js, so `npm test` does not run them.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { braftBinDir } from "./braft-bin.js";

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((name) => name.endsWith(".interop.js"))
  .sort()
  .map((name) => join(here, name));
const env = { ...process.env, TSRAFT_BRAFT_BIN: braftBinDir() };
console.log(`# braft binaries: ${env.TSRAFT_BRAFT_BIN}`);
// One file at a time: the scenarios start servers that share the machine's two cores.
const result = spawnSync(
  process.execPath,
  ["--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit", env },
);
process.exit(result.status ?? 1);
