/**
 * The guide's operations on the kv state machine, with real RaftServers in one process (bound to
 * port 0, so nothing races for a port): disaster recovery with resetPeers, backup and restore,
 * and a node in ERROR brought back. The marked regions are the guide's snippets, verbatim.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { backup, restore } from "../../examples/kv/backup.js";
import { KvStateMachine, encodeCommand, type KvWriteResult } from "../../examples/kv/kv-state-machine.js";
import { RaftNode, RaftServer, type Iterator } from "../../src/index.js";
import { waitFor } from "./counter-cluster.js";

const root = mkdtempSync(join(tmpdir(), "tsraft-kv-ops-"));
const running: Member[] = [];
after(async () => {
  await Promise.all([...running].map(stop));
  rmSync(root, { recursive: true, force: true });
});

interface Member {
  readonly server: RaftServer;
  readonly node: RaftNode;
  readonly fsm: KvStateMachine;
  readonly dir: string;
}

let dirs = 0;

/** A started RaftServer on a port the system picked. */
async function startServer(address = "127.0.0.1:0"): Promise<RaftServer> {
  const server = new RaftServer();
  await server.start(address);
  return server;
}

async function startNode(
  server: RaftServer,
  initialConf: string,
  options: { dir?: string; fsm?: KvStateMachine } = {},
) {
  const dir = options.dir ?? join(root, `node-${++dirs}`);
  const fsm = options.fsm ?? new KvStateMachine();
  const node = new RaftNode("kv", `${server.address}:0`);
  await node.init({
    fsm,
    server,
    initialConf,
    electionTimeoutMs: 300,
    logUri: `local://${join(dir, "log")}`,
    raftMetaUri: `local://${join(dir, "raft_meta")}`,
    snapshotUri: `local://${join(dir, "snapshot")}`,
  });
  const member = { server, node, fsm, dir };
  running.push(member);
  return member;
}

async function stop(member: Member): Promise<void> {
  running.splice(running.indexOf(member), 1);
  await member.node.shutdown();
  await member.server.stop();
}

/** Three nodes of a new group, every server bound before any node starts. */
async function startCluster(fsms: readonly KvStateMachine[] = []): Promise<Member[]> {
  const servers = await Promise.all([0, 1, 2].map(() => startServer()));
  const conf = servers.map((server) => `${server.address}:0`).join(",");
  return Promise.all(
    servers.map((server, i) => startNode(server, conf, fsms[i] === undefined ? {} : { fsm: fsms[i] })),
  );
}

function leaderOf(members: readonly Member[]): Promise<Member> {
  return waitFor("a leader", () => members.find((member) => member.node.isLeader()), 10_000);
}

async function put(member: Member, key: string, value: string, requestId?: string): Promise<KvWriteResult> {
  const command = encodeCommand({ op: "put", key, value, ...(requestId === undefined ? {} : { requestId }) });
  return (await member.node.apply(command)).result as KvWriteResult;
}

describe("kv operations (the guide's snippets)", () => {
  it("DisasterRecovery: with two of three nodes lost, resetPeers on the survivor takes writes again and a new node joins it", async () => {
    const members = await startCluster();
    const leader = await leaderOf(members);
    await put(leader, "a", "1");
    const survivor = members.find((member) => member !== leader) as Member;
    await waitFor("the survivor applied a", () => survivor.fsm.data.get("a") === "1" || undefined);
    await Promise.all(members.filter((member) => member !== survivor).map(stop));

    // #region reset-peers
    // The majority is gone for good: make the survivor a group of one (this skips consensus, and
    // writes acknowledged by the lost nodes alone are lost: docs/guide.md says when to do it).
    await survivor.node.resetPeers([survivor.node.peerId.toString()]);
    // #endregion reset-peers
    await waitFor("the survivor to lead", () => survivor.node.isLeader() || undefined, 10_000);
    assert.equal((await put(survivor, "b", "2")).previous, null);
    assert.equal(survivor.fsm.data.get("a"), "1", "it kept what it had");

    const newcomer = await startNode(await startServer(), ""); // empty: waits to be added
    await survivor.node.addPeer(newcomer.node.peerId);
    await waitFor("the new node caught up", () => newcomer.fsm.data.get("b") === "2" || undefined, 10_000);
    assert.deepEqual(survivor.node.getStatus().peers.length, 2);
  });

  it("BackupRestore: a backup taken on a follower bootstraps a new three-node cluster with the same map and request ids", async () => {
    const old = await startCluster();
    const oldLeader = await leaderOf(old);
    await put(oldLeader, "x", "1", "req-1");
    await put(oldLeader, "y", "2");
    const follower = old.find((member) => member !== oldLeader) as Member;
    await waitFor("the follower applied y", () => follower.fsm.data.get("y") === "2" || undefined);

    const backupDir = join(root, "backup");
    const index = await backup(follower.node, join(follower.dir, "snapshot"), backupDir);
    assert.ok(index >= 3, `the backup stands for the log up to ${index}`);

    // #region restore-cluster
    const servers = await Promise.all([0, 1, 2].map(() => startServer()));
    const peers = servers.map((server) => `${server.address}:0`).join(",");
    const dirs = servers.map((_, i) => join(root, `restored-${i}`));
    for (const dir of dirs) await restore(backupDir, index, peers, dir);
    const restored = await Promise.all(
      servers.map((server, i) => startNode(server, "", { dir: dirs[i] ?? "" })),
    );
    // #endregion restore-cluster
    const leader = await leaderOf(restored);
    for (const member of restored) {
      assert.deepEqual([...member.fsm.data], [...follower.fsm.data], member.node.peerId.toString());
    }
    const replay = await put(leader, "x", "1", "req-1");
    assert.equal(replay.replayed, true, "request ids survive the restore");
    assert.equal((await put(leader, "z", "3")).previous, null);
    await Promise.all(old.map(stop));
  });

  it("a node whose state machine throws enters ERROR and answers nothing; restarted with fixed code, it catches up", async () => {
    /** A state machine with a bug: it throws on one key. */
    class Buggy extends KvStateMachine {
      override onApply(iter: Iterator): void {
        for (const entry of iter) {
          if (new TextDecoder().decode(entry.data).includes('"poison"')) throw new Error("bug on poison");
        }
      }
    }
    const members = await startCluster([new KvStateMachine(), new KvStateMachine(), new Buggy()]);
    let broken = members[2] as Member;
    await leaderOf(members);
    await waitFor("a leader other than the buggy node", async () => {
      const leader = await leaderOf(members);
      if (leader !== broken) return leader;
      await leader.node.transferLeadershipTo(members[0]?.node.peerId.toString() ?? "");
      return undefined;
    });
    const leader = await leaderOf(members);
    await put(leader, "poison", "1");
    await waitFor(
      "the buggy node in ERROR",
      () => broken.node.getStatus().state === "ERROR" || undefined,
      10_000,
    );
    assert.equal(broken.fsm.error?.message.includes("bug on poison"), true, "onError told the state machine");
    await assert.rejects(broken.node.readIndex(), { code: "EPERM" });

    // #region error-restart
    // ERROR is final for this RaftNode: stop it, fix the cause, start it again from its disk.
    const { dir } = broken;
    const address = broken.server.address;
    await stop(broken);
    broken = await startNode(await startServer(address), "", { dir }); // the fixed code: KvStateMachine
    // #endregion error-restart
    await waitFor(
      "the restarted node applied the entry",
      () => broken.fsm.data.get("poison") === "1" || undefined,
      10_000,
    );
  });
});
