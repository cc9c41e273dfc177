/**
 * The main job: the demo cluster starts, agrees on increments over real sockets, stops cleanly,
 * and a second run continues from the state on disk.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const demo = join(process.cwd(), "dist", "examples", "demo", "main.js");

async function runDemo(data: string, ops: number, basePort: number): Promise<number[]> {
  const args = [
    demo,
    "--ops",
    String(ops),
    "--data",
    data,
    "--interval-ms",
    "100",
    "--base-port",
    String(basePort),
  ];
  const { stdout } = await run(process.execPath, args, { timeout: 60_000 });
  assert.match(stdout, /stopped cleanly/);
  return [...stdout.matchAll(/counter=(\d+)/g)].map((m) => Number(m[1]));
}

test("Demo: the cluster replicates over TCP and its state survives a restart", async () => {
  const data = mkdtempSync(join(tmpdir(), "tsraft-demo-"));
  const basePort = 20000 + (process.pid % 20000);
  try {
    assert.deepEqual(await runDemo(data, 3, basePort), [1, 2, 3]);
    assert.deepEqual(await runDemo(data, 2, basePort), [4, 5]);
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
});
