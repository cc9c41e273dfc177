/**
 * Where braft's binaries are, and whether they run here. The interop suite skips, with the reason,
 * when they are absent or cannot start (their runtime libraries missing): `npm test` on a machine
 * without braft stays green.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The binaries the suite runs. */
export const BRAFT_BINARIES = [
  "counter_server",
  "counter_client",
  "atomic_server",
  "atomic_client",
  "braft_cli",
] as const;
export type BraftBinary = (typeof BRAFT_BINARIES)[number];

/** The repository root: this file is dist/test/interop/braft-bin.js once compiled. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** `--braft-bin=DIR` on the command line, else TSRAFT_BRAFT_BIN, else ../shared/braft/bin. */
export function braftBinDir(argv: readonly string[] = process.argv, env = process.env): string {
  const flag = argv.find((arg) => arg.startsWith("--braft-bin="));
  if (flag !== undefined) return resolve(flag.slice("--braft-bin=".length));
  const fromEnv = env["TSRAFT_BRAFT_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") return resolve(fromEnv);
  return join(REPO_ROOT, "..", "shared", "braft", "bin");
}

/** The path of one braft binary. */
export function braftBinary(name: BraftBinary, dir = braftBinDir()): string {
  return join(dir, name);
}

let cachedReason: string | false | undefined;

/**
 * Why the suite cannot run here (a message for `skip`), or false when it can. A binary that exists
 * but fails to start (missing shared libraries) is reported with its loader's message.
 */
export function braftUnavailable(): string | false {
  if (cachedReason !== undefined) return cachedReason;
  const dir = braftBinDir();
  const missing = BRAFT_BINARIES.filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    cachedReason = `braft binaries not found in ${dir} (missing ${missing.join(", ")}); set TSRAFT_BRAFT_BIN`;
    return cachedReason;
  }
  const probe = spawnSync(join(dir, "counter_server"), ["--version"], { encoding: "utf8", timeout: 10_000 });
  const loaderError = /error while loading shared libraries[^\n]*/.exec(probe.stderr ?? "");
  cachedReason =
    probe.error !== undefined
      ? `braft's counter_server does not start: ${probe.error.message}`
      : loaderError !== null
        ? `braft's counter_server does not start (${loaderError[0]}); run ${join(dir, "..", "install-runtime.sh")}`
        : false;
  return cachedReason;
}
