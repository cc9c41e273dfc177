/** Runs the real `tsraft` command (dist/src/cli/main.js) as a child process, for the CLI tests. */
import { execFile } from "node:child_process";
import { join } from "node:path";

const main = join(process.cwd(), "dist", "src", "cli", "main.js");

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `tsraft <args...>`; resolves with the exit code and output, whatever the outcome. */
export function tsraft(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The run's only stdout line; throws (with the run) unless it succeeded with exactly one line. */
export function okLine(run: CliRun): string {
  const lines = run.stdout.split("\n").filter((l) => l !== "");
  if (run.code !== 0 || lines.length !== 1 || run.stderr !== "") {
    throw new Error(`tsraft did not succeed with one line: ${JSON.stringify(run)}`);
  }
  return lines[0] as string;
}

/** The run's only stderr line, asserting a failure with exit code `code` and an empty stdout. */
export function errorLine(run: CliRun, code = 1): string {
  const lines = run.stderr.split("\n").filter((l) => l !== "");
  if (run.code !== code || lines.length !== 1 || run.stdout !== "") {
    throw new Error(`tsraft did not fail (exit ${code}) with one line: ${JSON.stringify(run)}`);
  }
  return lines[0] as string;
}
