/**
 * The README's KvStore on three RaftServers in one process: writes through the leader reach every
 * node, a snapshot is taken, and a node restarted from its disk comes back with the same map.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { KvStore, encodeSet } from "../../examples/minimal/kv-store.js";
import { RaftNode, RaftServer } from "../../src/index.js";
import { freePorts } from "../../src/testing/free-ports.js";
import { waitFor } from "../rpc/helpers.js";

interface Member {
  readonly server: RaftServer;
  readonly node: RaftNode;
  readonly fsm: KvStore;
}

const dir = mkdtempSync(join(tmpdir(), "tsraft-minimal-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function startMember(peer: string, conf: string): Promise<Member> {
  const port = peer.split(":")[1] ?? "";
  const server = new RaftServer();
  await server.start(`127.0.0.1:${port}`);
  const fsm = new KvStore();
  const node = new RaftNode("kv", peer);
  await node.init({
    fsm,
    server,
    initialConf: conf,
    electionTimeoutMs: 300,
    logUri: `local://${dir}/${port}/log`,
    raftMetaUri: `local://${dir}/${port}/raft_meta`,
    snapshotUri: `local://${dir}/${port}/snapshot`,
  });
  return { server, node, fsm };
}

async function stopMember(member: Member): Promise<void> {
  await member.node.shutdown();
  await member.server.stop();
}

describe("the README's KvStore", () => {
  it("replicates, snapshots and restarts from its disk", async () => {
    const peers = (await freePorts(3)).map((port) => `127.0.0.1:${port}:0`);
    const conf = peers.join(",");
    const members = await Promise.all(peers.map((peer) => startMember(peer, conf)));
    try {
      await waitFor(() => members.some((m) => m.fsm.leaderTerm > 0), "a leader", 10_000);
      const leader = members.find((m) => m.fsm.leaderTerm > 0) as Member;
      const first = await leader.node.apply(encodeSet({ key: "a", value: "1" }));
      assert.equal(first.result, undefined);
      const second = await leader.node.apply(encodeSet({ key: "a", value: "2" }));
      assert.equal(second.result, "1", "apply resolves with what onApply passed to setResult");
      await leader.node.apply(encodeSet({ key: "b", value: "3" }));
      await waitFor(() => members.every((m) => m.fsm.data.get("b") === "3"), "every node applied", 10_000);
      const follower = members.find((m) => m !== leader) as Member;
      await follower.node.snapshot();
      assert.ok(follower.node.getStatus().lastSnapshotIndex >= 3);
      await stopMember(follower);
      const restarted = await startMember(follower.node.peerId.toString(), conf);
      members[members.indexOf(follower)] = restarted;
      assert.ok(restarted.node.getStatus().lastSnapshotIndex >= 3, "restarted from its snapshot");
      assert.deepEqual(
        [...restarted.fsm.data],
        [
          ["a", "2"],
          ["b", "3"],
        ],
        "state is back before any append",
      );
    } finally {
      await Promise.all(members.map(stopMember));
    }
  });
});
