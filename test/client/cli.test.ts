/**
 * braft::cli as a library (`cli.*` and CliClient) against scripted CliService servers, and the
 * channel's word on whether a failed call was sent (the fact safe retries rest on).
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { Channel, cli, type RaftError } from "../../src/index.js";
import { CliService, type ChangePeersRequest } from "../../src/rpc/gen/braft/cli_pb.js";
import type { RaftServer } from "../../src/server.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { startServer, stopAll } from "../rpc/helpers.js";

after(stopAll);

const idOf = (server: RaftServer): string => `${server.address}:0`;

interface Seen {
  readonly method: string;
  readonly to: string;
  readonly request: unknown;
}

/** A server whose CliService leads (or names `leader`) and records what it was asked. */
async function cliServer(seen: Seen[], leader?: string): Promise<RaftServer> {
  const server = await startServer();
  const self = idOf(server);
  const record = (method: string, request: unknown) => seen.push({ method, to: self, request });
  server.removeService(CliService.typeName);
  server.addService(CliService, {
    get_leader: () => ({ leaderId: leader ?? self }),
    add_peer: (r) => (record("add_peer", r), { oldPeers: [self], newPeers: [self, r.peerId] }),
    change_peers: (r: ChangePeersRequest) => (
      record("change_peers", r),
      { oldPeers: [self], newPeers: r.newPeers }
    ),
    transfer_leader: (r) => (record("transfer_leader", r), {}),
    snapshot: (r) => (record("snapshot", r), {}),
  });
  return server;
}

describe("cli (braft::cli as functions)", () => {
  it("finds the leader among the peers and sends the change there", async () => {
    const seen: Seen[] = [];
    const leader = await cliServer(seen);
    const follower = await cliServer(seen, idOf(leader));
    const conf = [idOf(follower), idOf(leader)];
    assert.equal((await cli.getLeader("g", conf)).toString(), idOf(leader));
    const added = await cli.addPeer("g", conf.join(","), "127.0.0.1:9:0");
    assert.deepEqual(added, { oldPeers: [idOf(leader)], newPeers: [idOf(leader), "127.0.0.1:9:0"] });
    const changed = await cli.changePeers("g", { leaderId: idOf(leader) }, ["127.0.0.1:7", "127.0.0.1:8:1"]);
    assert.deepEqual(changed.newPeers, ["127.0.0.1:7:0", "127.0.0.1:8:1"]);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.to}`),
      [`add_peer ${idOf(leader)}`, `change_peers ${idOf(leader)}`],
    );
  });

  it("transferLeader to the leader itself sends nothing; to any peer sends no peer id", async () => {
    const seen: Seen[] = [];
    const leader = await cliServer(seen);
    assert.equal((await cli.transferLeader("g", [idOf(leader)], idOf(leader))).toString(), idOf(leader));
    assert.equal(seen.length, 0);
    await cli.transferLeader("g", [idOf(leader)]);
    assert.equal((seen[0]?.request as { peerId?: string }).peerId ?? "", "", "no peer: ANY_PEER");
    await cli.snapshot("g", idOf(leader));
    assert.equal(seen[1]?.method, "snapshot");
  });

  it("a group nobody leads: the lookup's error, outcome refused", async () => {
    const [dead] = (await freePorts(1)) as [number];
    await assert.rejects(
      cli.addPeer("g", `127.0.0.1:${dead}:0`, "127.0.0.1:9:0", { maxRetry: 0 }),
      (e: RaftError) => {
        assert.deepEqual([e.code, e.outcome], ["EHOSTUNREACH", "refused"]);
        return true;
      },
    );
  });
});

describe("Channel outcome", () => {
  it("a call to a port nobody listens on was never sent: refused", async () => {
    const [dead] = (await freePorts(1)) as [number];
    const channel = new Channel(`127.0.0.1:${dead}`);
    for (let i = 0; i < 2; i++) {
      // The first fails connecting; the second is refused during the reconnect backoff.
      await assert.rejects(channel.call("s", "m", new Uint8Array(1), { timeoutMs: 1000 }), (e: RaftError) => {
        assert.deepEqual([e.code, e.outcome], ["EHOSTUNREACH", "refused"], e.message);
        return true;
      });
    }
    channel.close();
    await assert.rejects(channel.call("s", "m", new Uint8Array(1), { timeoutMs: 1000 }), (e: RaftError) => {
      assert.deepEqual([e.code, e.outcome], ["ESHUTDOWN", "refused"]);
      return true;
    });
  });

  it("a connection lost after the request was written: unknown", async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.once("data", () => socket.destroy()); // read the request, then drop the line
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const channel = new Channel(`127.0.0.1:${port}`);
    await assert.rejects(channel.call("s", "m", new Uint8Array(1), { timeoutMs: 5000 }), (e: RaftError) => {
      assert.deepEqual([e.code, e.outcome], ["EHOSTUNREACH", "unknown"], e.message);
      return true;
    });
    channel.close();
    server.close();
  });
});
