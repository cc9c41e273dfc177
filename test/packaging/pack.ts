/**
 * Steps of the packaging test: a clean copy of the checkout, `npm pack` in it, and an empty
 * project that installs the tarball. Every npm call here works offline from npm's cache, which
 * `npm ci` of the checkout filled, and falls back to the registry only for what is missing.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** A finished child process. */
export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `command args` in `cwd`; rejects (with both outputs) unless it exits 0. */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 120_000,
): Promise<Run> {
  return new Promise((done, fail) => {
    execFile(
      command,
      args,
      { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        const result = { code, stdout, stderr };
        if (code === 0) done(result);
        else fail(new Error(`${command} ${args.join(" ")} exited ${code}\n${stdout}\n${stderr}`));
      },
    );
  });
}

/** npm, with what every call of this test needs: no audit, no funding notes, cache first. */
export function npm(args: readonly string[], cwd: string): Promise<Run> {
  return run("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund"], cwd);
}

/**
 * Copies the files git knows in `checkout` (tracked, and new ones not ignored: what a clean clone
 * of this working tree would hold, so no dist/) to `target`, and links the checkout's
 * node_modules so the copy builds without installing anything.
 */
export async function cleanCopy(checkout: string, target: string): Promise<void> {
  const listed = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], checkout);
  const deleted = await run("git", ["ls-files", "-z", "--deleted"], checkout);
  const gone = new Set(deleted.stdout.split("\0"));
  for (const file of new Set(listed.stdout.split("\0"))) {
    if (file === "" || gone.has(file) || file === "node_modules") continue;
    mkdirSync(dirname(join(target, file)), { recursive: true });
    copyFileSync(join(checkout, file), join(target, file));
  }
  symlinkSync(resolve(checkout, "node_modules"), join(target, "node_modules"), "dir");
}

/** What `npm pack --json` reports about the tarball. */
export interface PackReport {
  readonly filename: string;
  readonly files: readonly { readonly path: string }[];
}

/** The JSON report of `npm pack --json`, after whatever the prepack script printed. */
export function packReport(stdout: string): PackReport {
  const start = stdout.search(/^\[/m);
  if (start < 0) throw new Error(`npm pack printed no report:\n${stdout}`);
  const [report] = JSON.parse(stdout.slice(start)) as PackReport[];
  if (report === undefined) throw new Error("npm pack reported no tarball");
  return report;
}

interface LockEntry {
  readonly dev?: boolean;
  readonly [field: string]: unknown;
}

/**
 * Writes the project's package.json and a lockfile that pins tsraft's runtime dependencies to
 * the versions of the checkout's package-lock.json (so `npm ci` installs what was tested, from
 * the cache, by integrity), with tsraft itself from `tarball`.
 */
export function writeUserProject(project: string, checkout: string, tarball: string): void {
  const manifest = JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as {
    name: string;
    version: string;
    dependencies: Record<string, string>;
    engines: Record<string, string>;
    bin: Record<string, string>;
    license: string;
  };
  const lock = JSON.parse(readFileSync(join(checkout, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${tarball}`;
  const packages: Record<string, unknown> = {
    "": { name: "user-app", dependencies: { tsraft: spec } },
    "node_modules/tsraft": {
      version: manifest.version,
      resolved: spec,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== "" && entry.dev !== true) packages[path] = entry;
  }
  const packageJson = { name: "user-app", private: true, type: "module", dependencies: { tsraft: spec } };
  writeFileSync(join(project, "package.json"), `${JSON.stringify(packageJson, null, 2)}\n`);
  const lockfile = { name: "user-app", lockfileVersion: 3, requires: true, packages };
  writeFileSync(join(project, "package-lock.json"), `${JSON.stringify(lockfile, null, 2)}\n`);
}
