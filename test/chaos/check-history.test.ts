/** The re-check tool reads back the history file a chaos run keeps, bigints included. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const TOOL = join(import.meta.dirname, "check-history.js");

function recheck(history: unknown[]): { status: number | null; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-history-"));
  try {
    const file = join(dir, "history.json");
    writeFileSync(file, JSON.stringify(history));
    const run = spawnSync(process.execPath, [TOOL, file], { encoding: "utf8" });
    return { status: run.status, stdout: run.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const write = { client: 1, key: "1", input: { type: "exchange", value: "5n" }, outcome: "ok" };
const seenWrite = { ...write, output: { previous: "0n" }, callMs: 0, returnMs: 1 };

test("CheckHistory: a kept history is checked again, with its verdict as the exit code", () => {
  const read = (value: string) => ({
    client: 2,
    key: "1",
    input: { type: "get" },
    outcome: "ok",
    output: { previous: value },
    callMs: 2,
    returnMs: 3,
  });
  const good = recheck([seenWrite, read("5n")]);
  assert.equal(good.status, 0, good.stdout);
  assert.match(good.stdout, /ops=2 linearizable=true/);
  const stale = recheck([seenWrite, read("0n")]);
  assert.equal(stale.status, 1, stale.stdout);
  assert.match(stale.stdout, /linearizable=false/);
  assert.match(stale.stdout, /get\(1\) = 0/);
});
