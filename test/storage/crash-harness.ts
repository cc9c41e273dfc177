/**
 * Driver of the crash tests: a child process writes in a loop and reports each acknowledged write;
 * the parent kills it with SIGKILL at a random moment, then reopens the storage and checks that
 * every acknowledged write is there and intact. Rounds are driven by a printed seed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "./helpers.js";

const CHILD = fileURLToPath(new URL("./crash-child.js", import.meta.url));
/** A node child loads Node and the library, then elects itself: slow on a loaded 2-core machine. */
const CHILD_START_TIMEOUT_MS = 20_000;

/**
 * Runs the child until it has reported `acksWanted` lines, then SIGKILLs it; returns the lines
 * it reported before dying.
 */
export async function runAndKill(args: string[], acksWanted: number): Promise<string[]> {
  const child = startChild(args);
  try {
    await waitFor(
      () => child.lines.length >= acksWanted || child.hasExited(),
      CHILD_START_TIMEOUT_MS,
      "child acks",
    );
  } finally {
    await child.kill9();
  }
  assert.equal(child.killedBySignal(), true, `child died on its own: ${child.stderr()}`);
  return child.lines;
}

/** A running crash child whose output lines can be awaited. */
export interface RunningChild {
  readonly pid: number;
  /** Every line printed so far. */
  readonly lines: string[];
  /** Resolves with the first line starting with `prefix`; rejects if the child exits first or the deadline passes. */
  lineStartingWith(prefix: string, timeoutMs?: number): Promise<string>;
  /** SIGKILLs the child and resolves once it is gone (no-op if it already exited). */
  kill9(): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Whether it has exited (and its output has drained). */
  hasExited(): boolean;
  /** Whether it ended by a signal (SIGKILL from kill9) rather than exiting by itself. */
  killedBySignal(): boolean;
  /** What it wrote to stderr so far. */
  stderr(): string;
}

/** Starts the crash child with `args` and collects its output. */
export function startChild(args: string[]): RunningChild {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let exitCode: number | null | undefined;
  // "close" comes after the exit and after the output pipes drained: no line is missed.
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const find = (prefix: string): string | undefined => lines.find((line) => line.startsWith(prefix));
  return {
    pid: child.pid ?? -1,
    lines,
    exited,
    async lineStartingWith(prefix, timeoutMs = CHILD_START_TIMEOUT_MS) {
      await waitFor(
        () => find(prefix) !== undefined || exitCode !== undefined,
        timeoutMs,
        `a line "${prefix}..." from child ${child.pid}`,
      );
      const line = find(prefix);
      if (line === undefined)
        throw new Error(`child exited (${exitCode}) without "${prefix}": ${lines.join(" | ")} ${stderr}`);
      return line;
    },
    async kill9() {
      if (exitCode === undefined) child.kill("SIGKILL");
      await exited;
    },
    hasExited: () => exitCode !== undefined,
    killedBySignal: () => exitCode === null,
    stderr: () => stderr,
  };
}
