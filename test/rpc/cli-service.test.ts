/**
 * braft's CliService and tsraft's LearnerService on a RaftServer with fake nodes: which node a
 * request reaches, braft's error codes and texts on the wire, and the peers reported back.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { NodeStatus } from "../../src/node/node-status.js";
import type { Channel } from "../../src/rpc/channel.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { LearnerService } from "../../src/rpc/gen/tsraft/cli_pb.js";
import type { RaftServer } from "../../src/server.js";
import type { NodeAdmin } from "../../src/node/ports.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { FakeRaftService, peerOn, startServer, stopAll } from "./helpers.js";

after(stopAll);

/** A NodeAdmin that records what it was asked and keeps a configuration. */
class FakeAdmin implements NodeAdmin {
  readonly calls: string[] = [];
  peers: string[] = [];
  learners: string[] = [];
  leader: string | undefined = undefined;
  failWith: RaftError | undefined = undefined;

  constructor(
    readonly groupId: string,
    readonly peerId: string,
    readonly cliDisabled = false,
  ) {}

  getStatus(): NodeStatus {
    return { peers: this.peers, learners: this.learners } as unknown as NodeStatus;
  }
  leaderId(): string | undefined {
    return this.leader;
  }
  private record(call: string): Promise<void> {
    this.calls.push(call);
    return this.failWith === undefined ? Promise.resolve() : Promise.reject(this.failWith);
  }
  addPeer = (peer: string) => this.record(`addPeer ${peer}`);
  removePeer = (peer: string) => this.record(`removePeer ${peer}`);
  changePeers = (peers: readonly string[]) => this.record(`changePeers ${peers.join(",")}`);
  resetPeers = (peers: readonly string[]) => this.record(`resetPeers ${peers.join(",")}`);
  snapshot = () => this.record("snapshot");
  transferLeadershipTo = (peer: string) => this.record(`transfer ${peer}`);
  addLearners = (learners: readonly string[]) => this.record(`addLearners ${learners.join(",")}`);
  removeLearners = (learners: readonly string[]) => this.record(`removeLearners ${learners.join(",")}`);
}

function host(server: RaftServer, admin: FakeAdmin): FakeAdmin {
  server.registerNode(admin.groupId, admin.peerId, Object.assign(new FakeRaftService(), { admin }));
  return admin;
}

function fails(code: string, text: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(RaftError.is(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return true;
  };
}

async function setup(): Promise<{ server: RaftServer; channel: Channel; a: FakeAdmin; b: FakeAdmin }> {
  const server = await startServer();
  const caller = await startServer();
  const a = host(server, new FakeAdmin("g", peerOn(server, 0)));
  const b = host(server, new FakeAdmin("g", peerOn(server, 1)));
  return { server, channel: caller.channels.get(server.address), a, b };
}

const opts = { timeoutMs: 2000 };

describe("CliService", () => {
  it("reaches the node named by leader_id, whatever form of its id, and reports old and new peers", async () => {
    const { server, channel, a, b } = await setup();
    b.peers = [peerOn(server, 1), "10.0.0.2:8100:0"];
    b.learners = ["10.0.0.9:8100:0"];
    const added = await callMethod(
      channel,
      CliService,
      "add_peer",
      {
        groupId: "g",
        leaderId: peerOn(server, 1),
        peerId: "10.0.0.3:8100",
      },
      opts,
    );
    assert.deepEqual(added.response.oldPeers, b.peers);
    assert.deepEqual(added.response.newPeers, [...b.peers, "10.0.0.3:8100:0"]);
    assert.deepEqual(b.calls, [`changePeers ${b.peers.join(",")},10.0.0.3:8100:0,10.0.0.9:8100:0/learner`]);
    assert.deepEqual(a.calls, []);
    const removed = await callMethod(
      channel,
      CliService,
      "remove_peer",
      {
        groupId: "g",
        leaderId: `${peerOn(server, 1)}:0`,
        peerId: "10.0.0.2:8100",
      },
      opts,
    );
    assert.deepEqual(removed.response.newPeers, [peerOn(server, 1)]);
    assert.equal(b.calls[1], "removePeer 10.0.0.2:8100:0");
  });

  it("keeps learners on change_peers, promotes one named as a peer, and passes node errors through", async () => {
    const { server, channel, a } = await setup();
    a.peers = [peerOn(server, 0)];
    a.learners = ["10.0.0.8:1:0", "10.0.0.9:1:0"];
    const changed = await callMethod(
      channel,
      CliService,
      "change_peers",
      {
        groupId: "g",
        leaderId: peerOn(server, 0),
        newPeers: [peerOn(server, 0), "10.0.0.9:1"],
      },
      opts,
    );
    assert.deepEqual(changed.response.newPeers, [peerOn(server, 0), "10.0.0.9:1:0"]);
    assert.deepEqual(a.calls, [`changePeers ${peerOn(server, 0)},10.0.0.9:1:0,10.0.0.8:1:0/learner`]);
    a.failWith = new RaftError("EPERM", "not the leader (leader: 10.0.0.9:1:0)");
    await assert.rejects(
      callMethod(
        channel,
        CliService,
        "remove_peer",
        { groupId: "g", leaderId: peerOn(server, 0), peerId: "1.1.1.1:1" },
        opts,
      ),
      fails("EPERM", /^not the leader \(leader: 10\.0\.0\.9:1:0\)$/),
    );
  });

  it("answers braft's ENOENT, EINVAL and EACCES", async () => {
    const { server, channel } = await setup();
    const off = host(server, new FakeAdmin("locked", peerOn(server, 0), true));
    const add = (groupId: string, leaderId: string, peerId = "1.1.1.1:1:0") =>
      callMethod(channel, CliService, "add_peer", { groupId, leaderId, peerId }, opts);
    await assert.rejects(
      add("nope", peerOn(server, 0)),
      fails("ENOENT", /^Fail to find node .* in group nope$/),
    );
    await assert.rejects(add("g", peerOn(server, 7)), fails("ENOENT", /Fail to find node/));
    await assert.rejects(add("g", "not-a-peer"), fails("EINVAL", /^Fail to parse not-a-peer$/));
    await assert.rejects(add("g", peerOn(server, 0), "bad"), fails("EINVAL", /^Fail to parse peer_id bad$/));
    await assert.rejects(
      add("locked", off.peerId),
      fails("EACCES", /CliService is not allowed to access node locked:/),
    );
    const snapshot = (groupId: string) => callMethod(channel, CliService, "snapshot", { groupId }, opts);
    await assert.rejects(
      snapshot("g"),
      fails("EINVAL", /peer must be specified since there're 2 nodes in group g/),
    );
    await assert.rejects(snapshot("none"), fails("ENOENT", /Fail to find node in group none/));
    await assert.rejects(snapshot("locked"), fails("EACCES", /not allowed/));
  });

  it("get_leader asks one peer or every node of the group; EAGAIN when none knows, even with CLI disabled", async () => {
    const { server, channel, a, b } = await setup();
    const off = host(server, new FakeAdmin("locked", peerOn(server, 0), true));
    const get = (groupId: string, peerId?: string) =>
      callMethod(
        channel,
        CliService,
        "get_leader",
        peerId === undefined ? { groupId } : { groupId, peerId },
        opts,
      );
    await assert.rejects(get("g"), fails("EAGAIN", /^Unknown leader$/));
    b.leader = "10.0.0.1:5:0";
    assert.equal((await get("g")).response.leaderId, "10.0.0.1:5:0");
    await assert.rejects(get("g", server.address), fails("EAGAIN", /Unknown leader/), "ip:port is idx 0");
    a.leader = "10.0.0.2:5:0";
    assert.equal((await get("g", a.peerId)).response.leaderId, "10.0.0.2:5:0");
    await assert.rejects(get("g", peerOn(server, 9)), fails("ENOENT", /^No nodes in group g$/));
    await assert.rejects(get("g", "x"), fails("EINVAL", /Fail to parse x/));
    off.leader = off.peerId;
    assert.equal((await get("locked")).response.leaderId, off.peerId);
  });

  it("snapshot, reset_peer and transfer_leader reach the named node; transfer without a peer means ANY_PEER", async () => {
    const { server, channel, a, b } = await setup();
    await callMethod(channel, CliService, "snapshot", { groupId: "g", peerId: peerOn(server, 1) }, opts);
    await callMethod(
      channel,
      CliService,
      "reset_peer",
      { groupId: "g", peerId: a.peerId, newPeers: [a.peerId] },
      opts,
    );
    await callMethod(channel, CliService, "transfer_leader", { groupId: "g", leaderId: a.peerId }, opts);
    await callMethod(
      channel,
      CliService,
      "transfer_leader",
      { groupId: "g", leaderId: a.peerId, peerId: b.peerId },
      opts,
    );
    assert.deepEqual(b.calls, ["snapshot"]);
    assert.deepEqual(a.calls, [`resetPeers ${a.peerId}`, "transfer 0.0.0.0:0:0", `transfer ${b.peerId}`]);
    a.failWith = new RaftError("ERAFTTIMEDOUT", "no new leader");
    await assert.rejects(
      callMethod(channel, CliService, "transfer_leader", { groupId: "g", leaderId: a.peerId }, opts),
      fails("ERAFTTIMEDOUT", /^Fail to invoke transfer_leadership_to : no new leader$/),
    );
  });
});

describe("LearnerService", () => {
  it("adds, removes and resets learners on the leader node, reporting old and new learners", async () => {
    const { server, channel, a } = await setup();
    a.peers = [a.peerId];
    a.learners = ["10.0.0.8:1:0"];
    const call = (method: "add_learners" | "remove_learners" | "reset_learners", learners: string[]) =>
      callMethod(channel, LearnerService, method, { groupId: "g", leaderId: a.peerId, learners }, opts);
    const added = await call("add_learners", ["10.0.0.9:1"]);
    assert.deepEqual(added.response.oldLearners, ["10.0.0.8:1:0"]);
    assert.deepEqual(added.response.newLearners, ["10.0.0.8:1:0", "10.0.0.9:1:0"]);
    const removed = await call("remove_learners", ["10.0.0.8:1:0"]);
    assert.deepEqual(removed.response.newLearners, []);
    const reset = await call("reset_learners", ["10.0.0.7:1:0"]);
    assert.deepEqual(reset.response.newLearners, ["10.0.0.7:1:0"]);
    assert.deepEqual(a.calls, [
      "addLearners 10.0.0.9:1:0",
      "removeLearners 10.0.0.8:1:0",
      `changePeers ${a.peerId},10.0.0.7:1:0/learner`,
    ]);
    await assert.rejects(call("add_learners", [server.address]), fails("EINVAL", /is a voter of group g/));
    await assert.rejects(call("add_learners", ["?"]), fails("EINVAL", /Fail to parse \?/));
  });
});
