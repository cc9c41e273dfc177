/**
 * Child processes of the benchmark that must not outlive it: braft's servers and client keep
 * running when their parent dies, so every one is SIGKILLed when the benchmark exits or is
 * interrupted. Their output goes to a file, read back only for error messages.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

/** Children that must not outlive the benchmark (killed on SIGINT/SIGTERM and on exit). */
const live = new Set<ChildProcess>();
let exitHooked = false;

/** Spawns a child that is SIGKILLed if the benchmark ends first; its output goes to `logFile`. */
export function spawnTracked(
  command: string,
  args: readonly string[],
  cwd: string,
  logFile: string,
): ChildProcess {
  if (!exitHooked) {
    exitHooked = true;
    const killAll = (): void => live.forEach((child) => child.kill("SIGKILL"));
    process.once("exit", killAll);
    for (const signal of ["SIGINT", "SIGTERM"] as const)
      process.once(signal, () => {
        killAll();
        process.exit(130);
      });
  }
  const fd = openSync(logFile, "a");
  const child = spawn(command, args, { cwd, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

/** Resolves once `child` has exited (at once if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** The last lines of a log file, for an error message. */
export function tailOf(file: string, lines = 12): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no output)";
  }
}
