/**
 * The tsraft command's client side in-process: how it picks the leader from the peers' answers,
 * what it reports when none names one, its timeout, and the status page fetch.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CliClient } from "../../src/cli/cli-client.js";
import { fetchStatus } from "../../src/cli/status.js";
import { RaftError } from "../../src/core/errors.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import type { RaftServer } from "../../src/server.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { startServer, stopAll } from "../rpc/helpers.js";

after(stopAll);

/** A server whose get_leader answers `answer(peerId)`: a leader id, or a RaftError to throw. */
async function peer(answer: (peerId: string) => string | RaftError | Promise<never>): Promise<RaftServer> {
  const server = await startServer();
  server.removeService(CliService.typeName);
  server.addService(CliService, {
    get_leader: async (request) => {
      const value = await answer(request.peerId);
      if (value instanceof RaftError) throw value;
      return { leaderId: value };
    },
  });
  return server;
}

const idOf = (server: RaftServer): string => `${server.address}:0`;

function fails(code: string, text: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(RaftError.is(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return true;
  };
}

describe("CliClient.leaderOf", () => {
  it("prefers a peer naming itself, then the answer most peers give", async () => {
    const client = new CliClient({ timeoutMs: -1, maxRetry: 0 });
    const self = await peer((id) => id);
    const stale = await peer(() => "10.0.0.1:1:0");
    assert.equal(await client.leaderOf("g", [idOf(stale), idOf(self), idOf(stale)]), idOf(self));
    const other = await peer(() => "10.0.0.2:1:0");
    const lost = await peer(() => new RaftError("EAGAIN", "Unknown leader"));
    assert.equal(
      await client.leaderOf("g", [idOf(other), idOf(stale), idOf(lost), idOf(stale)]),
      "10.0.0.1:1:0",
    );
    client.close();
  });

  it("reports every peer's answer, with a node's refusal over a transport error", async () => {
    const client = new CliClient({ timeoutMs: -1, maxRetry: 1 });
    const [dead] = (await freePorts(1)) as [number];
    const none = await peer(() => new RaftError("ENOENT", "No nodes in group g"));
    await assert.rejects(
      client.leaderOf("g", [`127.0.0.1:${dead}:0`, idOf(none)]),
      fails(
        "ENOENT",
        /^cannot find the leader of group g: \[127\.0\.0\.1:\d+:0\] EHOSTUNREACH .*ECONNREFUSED.*, \[.*\] ENOENT No nodes in group g$/,
      ),
    );
    await assert.rejects(
      client.leaderOf("g", [`127.0.0.1:${dead}:0`]),
      fails("EHOSTUNREACH", /ECONNREFUSED/),
    );
    client.close();
  });

  it("gives up on a silent peer after get_leader's timeout, or --timeout_ms when smaller", async () => {
    const client = new CliClient({ timeoutMs: 200, maxRetry: 0 });
    const silent = await peer(() => new Promise<never>(() => undefined));
    const started = performance.now();
    await assert.rejects(client.leaderOf("g", [idOf(silent)]), fails("ERAFTTIMEDOUT", /./));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 190 && elapsed < 900, `timed out after ${elapsed} ms`);
    client.close();
  });
});

describe("fetchStatus", () => {
  it("prints the page, ENOENT on 404, EHOSTUNREACH when nothing listens", async () => {
    const server = await startServer();
    server.addHttpRoute("/raft_stat", (req, res) => void res.end(`page ${req.url ?? ""}\n`));
    assert.equal(await fetchStatus(server.address, undefined, 2000), "page /raft_stat");
    assert.equal(await fetchStatus(`${server.address}:0`, "g 1", 2000), "page /raft_stat/g%201");
    const bare = await startServer();
    await assert.rejects(fetchStatus(bare.address, "g", 2000), fails("ENOENT", /HTTP 404/));
    const [dead] = (await freePorts(1)) as [number];
    await assert.rejects(
      fetchStatus(`127.0.0.1:${dead}`, undefined, 2000),
      fails("EHOSTUNREACH", /ECONNREFUSED/),
    );
  });
});
