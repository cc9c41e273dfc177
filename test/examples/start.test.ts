/**
 * The main job: `npm start` (dist/examples/start.js) brings up the 3-process counter cluster, its
 * workload moves the counter, SIGINT stops everything with exit code 0, and a second run continues
 * the counter from the data on disk.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { freePorts } from "../../src/testing/free-ports.js";
import { exited, waitFor } from "./counter-cluster.js";

const START = join(process.cwd(), "dist", "examples", "start.js");

/** Runs start.js until it has printed `count` counter values, then SIGINT; returns the values. */
async function runStart(ports: readonly number[], dataPath: string, count: number): Promise<number[]> {
  const args = [START, `--ports=${ports.join(",")}`, `--data_path=${dataPath}`, "--interval_ms=100"];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on("line", (line) => lines.push(line));
  const values = (): number[] =>
    lines.flatMap((line) => {
      const match = /^\[start\] counter=(\d+)/.exec(line);
      return match === null ? [] : [Number(match[1])];
    });
  try {
    await waitFor(`${count} counter values`, () => (values().length >= count ? true : undefined), 30_000);
    assert.ok(lines.some((line) => line.includes(`dashboard: http://127.0.0.1:${ports[0]}/`)));
    // The banner names each node's process and the command that restarts it.
    for (const [i, port] of ports.entries()) {
      const banner = lines.find((line) => line.startsWith(`[start] n${i + 1}:${port} pid `)) ?? "";
      const match = /pid (\d+); restart it with: node (\S+) --ip=127\.0\.0\.1 --port=(\d+) /.exec(banner);
      assert.ok(match !== null, `a banner line for port ${port}: ${lines.join("\n")}`);
      assert.equal(match[2], join("dist", "examples", "counter", "server.js"));
      assert.equal(Number(match[3]), port);
      process.kill(Number(match[1]), 0); // throws unless that process is alive
    }
    // The URL it prints answers: the dashboard page, and the status JSON it polls.
    const page = await fetch(`http://127.0.0.1:${ports[0]}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const stat = await fetch(`http://127.0.0.1:${ports[0]}/raft_stat?format=json`);
    assert.equal(stat.status, 200);
    assert.match(await stat.text(), /"groupId":"Counter"/);
    assert.ok(
      lines.some((line) => /^\[n\d:\d+\] .*Node becomes leader/.test(line)),
      "node output is prefixed",
    );
  } finally {
    child.kill("SIGINT");
  }
  assert.equal(await exited(child), 0, lines.join("\n"));
  assert.ok(lines.at(-1)?.includes("stopped cleanly"), lines.join("\n"));
  return values();
}

test("Start: npm start runs the cluster and its workload, stops on SIGINT, and continues on a second run", async () => {
  const dataPath = mkdtempSync(join(tmpdir(), "tsraft-start-"));
  try {
    const ports = await freePorts(3);
    const first = await runStart(ports, dataPath, 3);
    assert.ok(first[0] === 1 || first[0] === 2, `a new counter starts at 1: ${first.join()}`);
    assert.ok(
      first.every((value, i) => i === 0 || value > (first[i - 1] ?? 0)),
      first.join(),
    );
    const second = await runStart(ports, dataPath, 2);
    // Usually exactly one more; a fetch_add that timed out but was applied would skip a value.
    assert.ok(
      (second[0] ?? 0) > (first.at(-1) ?? 0),
      `the counter continues: ${first.join()} then ${second.join()}`,
    );
  } finally {
    rmSync(dataPath, { recursive: true, force: true });
  }
});
