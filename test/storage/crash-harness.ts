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
/** A child that reports nothing within this is stuck, not slow. */
const CHILD_ACK_TIMEOUT_MS = 3000;

/**
 * Runs the child until it has reported `acksWanted` lines, then SIGKILLs it; returns the lines
 * it reported before dying.
 */
export async function runAndKill(args: string[], acksWanted: number): Promise<string[]> {
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
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  try {
    await waitFor(
      () => lines.length >= acksWanted || child.exitCode !== null,
      CHILD_ACK_TIMEOUT_MS,
      "child acks",
    );
  } finally {
    child.kill("SIGKILL");
  }
  assert.equal(await exited, "SIGKILL", `child died on its own: ${stderr}`);
  return lines;
}
