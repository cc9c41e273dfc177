/**
 * The pieces of `npm run chaos -- --braft N` that run without braft: the connect() shim that puts
 * braft's peer traffic through the fault proxy (tried on a node child, whose sockets go through
 * the same libc connect), the table it reads, braft's snapshot format, and the message when the
 * binary is absent. The mixed run itself needs braft's binaries and is not part of `npm test`.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "node:test";
import { freePorts } from "../../src/testing/free-ports.js";
import { braftAtomicServer, braftSnapshotValues, buildConnectShim, connectMapOf } from "./braft-atomic.js";

const hasCompiler = spawnSync(process.env["CC"] ?? "cc", ["--version"]).status === 0;

test("ConnectMap: a FaultProxy address map becomes the shim's port table", () => {
  const map = new Map([
    ["127.0.0.1:8101", "127.0.0.1:40001"],
    ["127.0.0.1:8102", "127.0.0.1:40002"],
  ]);
  assert.equal(connectMapOf(map), "8101=40001,8102=40002");
});

test(
  "ConnectRedirect: with the shim preloaded, a connection to a mapped loopback port reaches the mapped one",
  { skip: hasCompiler ? false : "no C compiler (cc)" },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "tsraft-shim-"));
    const server = createServer((socket) => socket.end("redirected\n"));
    try {
      const library = await buildConnectShim(dir);
      const [target, unused] = (await freePorts(2)) as [number, number];
      await new Promise<void>((resolve) => server.listen(target, "127.0.0.1", resolve));
      const dial = `require("net").connect(${unused}, "127.0.0.1").on("data", (d) => process.stdout.write(d)).on("error", (e) => { console.log(e.code); })`;
      // Asynchronously: the server that must answer lives in this process.
      const child = await promisify(execFile)(process.execPath, ["-e", dial], {
        env: { ...process.env, LD_PRELOAD: library, TSRAFT_CONNECT_MAP: `${unused}=${target}` },
        encoding: "utf8",
        timeout: 20_000,
      });
      assert.equal(child.stdout.trim(), "redirected", child.stderr);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("BraftSnapshotValues: the newest snapshot_<index>/data of braft's atomic example, sorted by id", () => {
  const dir = mkdtempSync(join(tmpdir(), "tsraft-braft-snap-"));
  try {
    for (const [index, text] of [
      [7, "1 5\n"],
      [12, "10 -3\n2 9\n1 0\n"],
    ] as const) {
      const snapshot = join(dir, "data", "snapshot", `snapshot_${String(index).padStart(20, "0")}`);
      mkdirSync(snapshot, { recursive: true });
      writeFileSync(join(snapshot, "data"), text);
    }
    assert.deepEqual(braftSnapshotValues(dir), {
      index: 12,
      values: [
        ["1", "0"],
        ["2", "9"],
        ["10", "-3"],
      ],
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("BraftAbsent: --braft without braft's atomic_server fails naming the directory and how to point at one", () => {
  assert.throws(
    () => braftAtomicServer("/nonexistent/braft/bin"),
    /atomic_server, not found in \/nonexistent\/braft\/bin.*--braft-bin \(or TSRAFT_BRAFT_BIN\)/,
  );
});
