/**
 * `npm start` when one of its ports is taken: it must not start its nodes (nor drive whatever
 * listens there as if it were its own cluster), and must say at once which port and how to pick
 * others.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { freePorts } from "../../src/testing/free-ports.js";
import { exited } from "./counter-cluster.js";

const START = join(process.cwd(), "dist", "examples", "start.js");

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

test("StartPortTaken: npm start stops at once, naming the taken port and --ports, and starts no node", async () => {
  const [held, second, third] = (await freePorts(3)) as [number, number, number];
  const holder: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => holder.listen(held, "127.0.0.1", resolve));
  const dataPath = mkdtempSync(join(tmpdir(), "tsraft-start-taken-"));
  try {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [START, `--ports=${held},${second},${third}`, `--data_path=${join(dataPath, "data")}`],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await exited(child);
    const elapsedMs = performance.now() - started;
    assert.equal(code, 1, `${stdout}\n${stderr}`);
    assert.equal(stdout, "", "no banner, no node output");
    assert.match(
      stderr,
      new RegExp(
        `^\\[start\\] cannot start: port ${held} \\(EADDRINUSE\\) on 127\\.0\\.0\\.1 is in use .*Nothing was started\\. .*npm start -- --ports=\\S+\\n$`,
      ),
    );
    // The process start-up is most of it; no node was spawned, nothing waited on an election.
    assert.ok(elapsedMs < 15_000, `took ${Math.round(elapsedMs)} ms`);
    assert.equal(await listening(second), false, "no node listens on the free ports");
    assert.equal(await listening(third), false);
    assert.equal(existsSync(join(dataPath, "data")), false, "no data directory was created");
  } finally {
    holder.close();
    rmSync(dataPath, { recursive: true, force: true });
  }
});
