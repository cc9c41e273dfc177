/**
 * The tsraft command's defaults, run as a user runs it (a child process): it gives up on a peer
 * that accepts the connection and never answers, within its default --timeout_ms, with one line
 * saying how to wait longer; and `--version` / `-v` print the package's version.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { DEFAULT_TIMEOUT_MS } from "../../src/cli/program.js";
import { errorLine, okLine, tsraft } from "../process/run-cli.js";

/** A TCP server that accepts every connection, reads what it is sent and never writes a byte. */
async function silentServer(): Promise<{ server: Server; endpoint: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.resume();
  });
  server.on("close", () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { server, endpoint: `127.0.0.1:${address.port}` };
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.close();
    server.emit("close");
  }
});

describe("tsraft defaults", () => {
  it("gives up on a silent peer after the default timeout, for every kind of command", async () => {
    const { server, endpoint } = await silentServer();
    servers.push(server);
    const peer = `${endpoint}:0`;
    const started = performance.now();
    // In parallel, so the test waits one timeout, not four.
    const [snapshot, addPeer, getLeader, status] = await Promise.all([
      tsraft("snapshot", "--group=g", `--peer=${peer}`),
      tsraft("add_peer", "--group=g", `--leader=${peer}`, "--peer=127.0.0.1:1:0"),
      tsraft("get_leader", "--group=g", `--conf=${peer}`),
      tsraft("status", `--peer=${endpoint}`),
    ]);
    const elapsedMs = performance.now() - started;
    // Process start-up on a loaded machine takes seconds of its own; a hang takes forever.
    assert.ok(elapsedMs < 2 * DEFAULT_TIMEOUT_MS, `the commands took ${Math.round(elapsedMs)} ms`);
    assert.match(
      errorLine(snapshot),
      /^tsraft: snapshot failed: ERAFTTIMEDOUT: .*timed out after 10000 ms \(--timeout_ms=<ms> waits longer, -1 forever\. The operation may still complete on the node: check before retrying\.\)$/,
    );
    assert.match(errorLine(addPeer), /^tsraft: add_peer failed: ERAFTTIMEDOUT: .*may still complete/);
    // get_leader keeps brpc's 1 s per peer; status is a read: no "may still complete".
    assert.match(
      errorLine(getLeader),
      /^tsraft: get_leader failed: ERAFTTIMEDOUT: .*timed out after 1000 ms$/,
    );
    assert.match(
      errorLine(status),
      /^tsraft: status failed: ERAFTTIMEDOUT: GET http:.*waits longer, -1 forever\.\)$/,
    );
  });

  it("prints the package's version for --version and -v", async () => {
    const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    assert.equal(okLine(await tsraft("--version")), manifest.version);
    assert.equal(okLine(await tsraft("-v")), manifest.version);
  });
});
