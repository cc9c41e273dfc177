#!/usr/bin/env node
/**
 * `tsraft`: braft_cli for tsraft and braft groups. Prints one line on success (exit 0); on
 * failure one line on stderr, `tsraft: <command> failed: <CODE>: <text>` (exit 1), or for a bad
 * command line `tsraft: <problem>` (exit 2).
 */
import { CommanderError } from "commander";
import { RaftError } from "../core/errors.js";
import { UsageError } from "./args.js";
import { CliClient, brief } from "./cli-client.js";
import { buildProgram, type Invocation } from "./program.js";

/** Exit code: done. */
export const EXIT_OK = 0;
/** Exit code: the operation failed or was refused. */
export const EXIT_FAILED = 1;
/** Exit code: bad command line. */
export const EXIT_USAGE = 2;

const oneLine = (text: string): string =>
  text
    .replace(/^error: /, "")
    .replace(/\s*\n\s*/g, " ")
    .trim();

async function run({ command, run, flags }: Invocation): Promise<void> {
  const client = new CliClient({ timeoutMs: flags.timeout_ms, maxRetry: Math.max(0, flags.max_retry) });
  try {
    process.stdout.write(`${await run(flags, client)}\n`);
  } catch (error) {
    process.exitCode = failure(command, error);
  } finally {
    client.close();
  }
}

/** Writes the one line for `error` and returns the exit code. */
function failure(command: string, error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`tsraft: ${command}: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const what = RaftError.is(error) ? `${error.code}: ${brief(error.message)}` : String(error);
  process.stderr.write(`tsraft: ${command} failed: ${oneLine(what)}${hintFor(command, error)}\n`);
  return EXIT_FAILED;
}

/** What a timed-out command leaves the operator to know: how to wait longer, and what may have happened. */
function hintFor(command: string, error: unknown): string {
  if (!RaftError.is(error) || error.code !== "ERAFTTIMEDOUT") return "";
  // The leader lookup keeps brpc's 1 s per peer and sent nothing else: no hint applies.
  if (error.message.startsWith("cannot find the leader")) return "";
  const readOnly = command === "get_leader" || command === "status";
  const outcome = readOnly ? "" : " The operation may still complete on the node: check before retrying.";
  return ` (--timeout_ms=<ms> waits longer, -1 forever.${outcome})`;
}

const program = buildProgram(run, (text, write) => write(`tsraft: ${oneLine(text)}\n`));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
}
