/** RaftServer with fake nodes: every RaftService method, routing, errors, user services, HTTP. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { get } from "node:http";
import { RaftError } from "../../src/core/errors.js";
import { EntryType } from "../../src/core/types.js";
import { RaftServer } from "../../src/server.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { FakeRaftService, peerOn, startServer, stopAll, voteRequest } from "./helpers.js";

after(stopAll);

function isRaftError(code: string, text?: RegExp) {
  return (err: unknown): boolean =>
    RaftError.is(err) && err.code === code && (text === undefined || text.test(err.message));
}

function httpGet(address: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(`http://${address}${path}`, (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

describe("RaftServer", () => {
  it("carries every RaftService method to the node registered for the group", async () => {
    const server = await startServer();
    const caller = await startServer();
    const node = new FakeRaftService();
    server.registerNode("Counter", peerOn(server), node);
    const to = peerOn(server);

    const preVote = await caller.client.requestVote(to, voteRequest("Counter", to, true), 1000);
    // Absent optional fields decode as braft's defaults (braft always sets them).
    assert.deepEqual(preVote, {
      term: 7,
      granted: true,
      rejectedByLease: false,
      disrupted: false,
      previousTerm: 0,
    });
    await caller.client.requestVote(to, voteRequest("Counter", to, false), 1000);
    assert.deepEqual(
      node.votes.map((v) => v.preVote),
      [true, false],
    );

    const response = await caller.client.appendEntries(
      to,
      {
        groupId: "Counter",
        serverId: peerOn(caller),
        peerId: to,
        term: 7,
        prevLogTerm: 6,
        prevLogIndex: 10,
        committedIndex: 9,
        entries: [
          { index: 11, term: 7, type: EntryType.DATA, data: new Uint8Array([1, 2, 3]) },
          {
            index: 12,
            term: 7,
            type: EntryType.CONFIGURATION,
            data: new Uint8Array(0),
            conf: { peers: [to] },
          },
        ],
      },
      1000,
    );
    assert.deepEqual(response, { term: 7, success: true, lastLogIndex: 12, readonly: false });
    assert.deepEqual([...(node.appends[0]?.entries[0]?.data ?? [])], [1, 2, 3]);
    assert.deepEqual(node.appends[0]?.entries[1]?.conf, { peers: [to] });

    const timeoutNow = await caller.client.timeoutNow(
      to,
      { groupId: "Counter", serverId: "1.1.1.1:1:0", peerId: to, term: 7 },
      1000,
    );
    assert.deepEqual(timeoutNow, { term: 8, success: true });

    const install = await caller.client.installSnapshot?.(
      to,
      {
        groupId: "Counter",
        serverId: "1.1.1.1:1:0",
        peerId: to,
        term: 7,
        uri: "remote://1.1.1.1:1/5",
        meta: { lastIncludedIndex: 3, lastIncludedTerm: 1, conf: { peers: [to] } },
      },
      0,
    );
    assert.deepEqual(install, { term: 7, success: true });
  });

  it("hosts many groups and several nodes of one group, routed by group id and peer id", async () => {
    const server = await startServer();
    const caller = await startServer();
    const nodes = [new FakeRaftService(), new FakeRaftService(), new FakeRaftService()];
    server.registerNode("a", peerOn(server, 0), nodes[0]!);
    server.registerNode("b", peerOn(server, 0), nodes[1]!);
    server.registerNode("b", peerOn(server, 1), nodes[2]!);
    assert.throws(() => server.registerNode("a", peerOn(server, 0), nodes[0]!), isRaftError("EEXIST"));
    await caller.client.requestVote(peerOn(server, 0), voteRequest("a", peerOn(server, 0)), 1000);
    await caller.client.requestVote(peerOn(server, 0), voteRequest("b", peerOn(server, 0)), 1000);
    // braft's ip:port:idx:role form routes to the same node.
    await caller.client.requestVote(peerOn(server, 1), voteRequest("b", `${peerOn(server, 1)}:0`), 1000);
    assert.deepEqual(
      nodes.map((n) => n.votes.length),
      [1, 1, 1],
    );
    assert.deepEqual(server.groupIds().sort(), ["a", "b"]);
    assert.deepEqual(caller.channels.endpoints(), [server.address], "one channel serves every group");
  });

  it("answers braft's ENOENT for an unknown group or peer, and keeps serving", async () => {
    const server = await startServer();
    const caller = await startServer();
    server.registerNode("known", peerOn(server), new FakeRaftService());
    const to = peerOn(server);
    await assert.rejects(
      caller.client.requestVote(to, voteRequest("unknown", to), 1000),
      isRaftError("ENOENT", /peer_id not exist/),
    );
    await assert.rejects(
      caller.client.requestVote(to, voteRequest("known", peerOn(server, 5)), 1000),
      isRaftError("ENOENT"),
    );
    server.unregisterNode("known", to);
    await assert.rejects(
      caller.client.requestVote(to, voteRequest("known", to), 1000),
      isRaftError("ENOENT"),
    );
  });

  it("passes a node's RaftError through with its errno, and other failures as EIO", async () => {
    const server = await startServer();
    const caller = await startServer();
    const node = new FakeRaftService({
      requestVote: () => Promise.reject(new RaftError("EBUSY", "Is installing snapshot")),
      timeoutNow: () => {
        throw new TypeError("boom");
      },
      appendEntries: () => Promise.reject(new RaftError("ERAFTTIMEDOUT", "slow disk")),
    });
    server.registerNode("g", peerOn(server), node);
    const to = peerOn(server);
    await assert.rejects(caller.client.requestVote(to, voteRequest("g", to), 1000), (err: unknown) => {
      return (
        RaftError.is(err) &&
        err.code === "EBUSY" &&
        err.errno === 16 &&
        err.message === "Is installing snapshot"
      );
    });
    await assert.rejects(
      caller.client.timeoutNow(to, { groupId: "g", serverId: to, peerId: to, term: 1 }, 1000),
      isRaftError("EIO", /brpc EINTERNAL 2001\] boom/),
    );
    await assert.rejects(
      caller.client.appendEntries(
        to,
        {
          groupId: "g",
          serverId: to,
          peerId: to,
          term: 1,
          prevLogIndex: 0,
          prevLogTerm: 0,
          committedIndex: 0,
          entries: [],
        },
        1000,
      ),
      isRaftError("ERAFTTIMEDOUT", /slow disk/),
    );
  });

  it("serves user services on the same port, typed and raw, with attachments", async () => {
    const server = await startServer();
    const caller = await startServer();
    // Every server serves braft's CliService; replace it with a sample user implementation.
    server.removeService(CliService.typeName);
    server.addService(CliService, {
      get_leader: (request, ctx) => {
        ctx.responseAttachment = Buffer.from(`att:${Buffer.from(ctx.requestAttachment).toString()}`);
        return { leaderId: `leader-of-${request.groupId}` };
      },
    });
    server.addMethod("example.EchoService", "Echo", (message) => message.slice().reverse());
    const channel = caller.channels.get(server.address);
    const { response, attachment } = await callMethod(
      channel,
      CliService,
      "get_leader",
      { groupId: "Counter" },
      { timeoutMs: 1000, attachment: Buffer.from("req") },
    );
    assert.equal(response.leaderId, "leader-of-Counter");
    assert.equal(Buffer.from(attachment).toString(), "att:req");
    const echo = await channel.call("EchoService", "Echo", Buffer.from("abc"), { timeoutMs: 1000 });
    assert.equal(Buffer.from(echo.message).toString(), "cba", "a unique short service name resolves");
    await assert.rejects(
      callMethod(
        channel,
        CliService,
        "add_peer",
        { groupId: "g", leaderId: "1.1.1.1:1:0", peerId: "1.1.1.1:2:0" },
        { timeoutMs: 1000 },
      ),
      isRaftError("ENOSYS", /ENOMETHOD 1002/),
    );
    await assert.rejects(
      channel.call("no.Such", "m", new Uint8Array(0), { timeoutMs: 1000 }),
      isRaftError("ENOSYS", /ENOSERVICE/),
    );
    await assert.rejects(
      channel.call("braft.CliService", "get_leader", Buffer.from([0xff, 0xff]), { timeoutMs: 1000 }),
      isRaftError("EINVAL", /EREQUEST 1003\] Fail to parse request message/),
    );
  });

  it("answers a handler that throws, synchronously or not, as one failed call and keeps serving", async () => {
    const server = await startServer();
    const caller = await startServer();
    server.addMethod("example.FailService", "Sync", () => {
      throw new RaftError("EBUSY", "busy now");
    });
    server.addMethod("example.FailService", "Async", () =>
      Promise.reject(new RaftError("EPERM", "not leader")),
    );
    server.addMethod("example.FailService", "Echo", (message) => message);
    const channel = caller.channels.get(server.address);
    const calls = [
      channel.call("example.FailService", "Sync", Buffer.from("a"), { timeoutMs: 1000 }),
      channel.call("example.FailService", "Async", Buffer.from("b"), { timeoutMs: 1000 }),
      channel.call("example.FailService", "Echo", Buffer.from("c"), { timeoutMs: 1000 }),
    ];
    await assert.rejects(calls[0]!, isRaftError("EBUSY", /busy now/));
    await assert.rejects(calls[1]!, isRaftError("EPERM", /not leader/));
    assert.equal(Buffer.from((await calls[2]!).message).toString(), "c");
  });

  it("answers HTTP on the same port: /health, routes, 404", async () => {
    const server = await startServer();
    server.addHttpRoute("/raft_stat", (req, res) => {
      res.end(`stat ${req.url ?? ""}`);
    });
    assert.deepEqual(await httpGet(server.address, "/health"), { status: 200, body: "OK\n" });
    assert.deepEqual(await httpGet(server.address, "/raft_stat/Counter?x=1"), {
      status: 200,
      body: "stat /raft_stat/Counter?x=1",
    });
    assert.equal((await httpGet(server.address, "/nope")).status, 404);
    // baidu_std still works on the same port afterwards.
    server.registerNode("g", peerOn(server), new FakeRaftService());
    const caller = await startServer();
    await caller.client.requestVote(peerOn(server), voteRequest("g", peerOn(server)), 1000);
  });

  it("keeps every entry's bytes intact across hundreds of pipelined large appends", async () => {
    const server = await startServer();
    const caller = await startServer();
    const node = new FakeRaftService();
    server.registerNode("g", peerOn(server), node);
    const to = peerOn(server);
    const payload = (i: number): Uint8Array => new Uint8Array(40_000 + i).fill(i % 251);
    const calls = Array.from({ length: 300 }, (_, i) =>
      caller.client.appendEntries(
        to,
        {
          groupId: "g",
          serverId: peerOn(caller),
          peerId: to,
          term: 1,
          prevLogTerm: 1,
          prevLogIndex: i * 2,
          committedIndex: 0,
          entries: [
            { index: i * 2 + 1, term: 1, type: EntryType.DATA, data: payload(i) },
            { index: i * 2 + 2, term: 1, type: EntryType.DATA, data: new Uint8Array([i % 256]) },
          ],
        },
        5000,
      ),
    );
    const responses = await Promise.all(calls);
    assert.deepEqual(
      responses.map((r) => r.lastLogIndex),
      Array.from({ length: 300 }, (_, i) => i * 2 + 2),
    );
    for (const request of node.appends) {
      const i = request.prevLogIndex / 2;
      const [big, small] = request.entries;
      assert.equal(big?.data.length, 40_000 + i);
      assert.ok(big?.data.every((b) => b === i % 251));
      assert.deepEqual([...(small?.data ?? [])], [i % 256]);
    }
  });

  it("starts once, stops idempotently, and fails calls after stop", async () => {
    const server = await startServer();
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    await assert.rejects(server.start("127.0.0.1:0"), isRaftError("EINVAL"));
    const taken = new RaftServer();
    await assert.rejects(taken.start(server.address), isRaftError("EIO", /cannot listen/));
    await taken.stop();
    await server.stop();
    await server.stop();
    await assert.rejects(
      server.client.requestVote("127.0.0.1:1:0", voteRequest("g", "127.0.0.1:1:0"), 100),
      isRaftError("ESHUTDOWN"),
    );
  });
});
