/**
 * InstallSnapshot over real TCP: a follower wiped of all its data rejoins a group whose leader
 * compacted its log, copies the leader's snapshot through braft's FileService, and ends with the
 * leader's state.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { RaftNode } from "../../src/index.js";
import { SnapshotCounter, startServer, stopAll, waitFor } from "./helpers.js";

after(stopAll);

test("InstallSnapshotOverTcp: a wiped follower catches up from a compacted leader", async () => {
  const root = mkdtempSync(join(tmpdir(), "tsraft-install-"));
  const servers = await Promise.all([startServer(), startServer(), startServer()]);
  const peers = servers.map((s) => `${s.address}:0`);
  const start = async (i: number, dir: string): Promise<{ node: RaftNode; fsm: SnapshotCounter }> => {
    const fsm = new SnapshotCounter();
    const node = new RaftNode("install", peers[i] as string);
    await node.init({
      fsm,
      server: servers[i] as (typeof servers)[number],
      initialConf: peers.join(","),
      electionTimeoutMs: 300,
      logUri: `local://${dir}/log`,
      raftMetaUri: `local://${dir}/meta`,
      snapshotUri: `local://${dir}/snapshot`,
      snapshotLogMarginEntries: 0,
    });
    return { node, fsm };
  };
  const members = await Promise.all(peers.map((_, i) => start(i, join(root, `n${i}`))));
  try {
    await waitFor(() => members.some((m) => m.node.isLeader()), "a leader", 10_000);
    const leader = members.find((m) => m.node.isLeader()) as { node: RaftNode; fsm: SnapshotCounter };
    const followerIndex = members.findIndex((m) => m !== leader);
    const follower = members[followerIndex] as { node: RaftNode; fsm: SnapshotCounter };
    for (let i = 0; i < 20; i++) await leader.node.apply(Uint8Array.of(1));
    await follower.node.shutdown();
    rmSync(join(root, `n${followerIndex}`), { recursive: true, force: true });
    for (let i = 0; i < 10; i++) await leader.node.apply(Uint8Array.of(2));
    await leader.node.snapshot();
    assert.ok(leader.node.getStatus().firstIndex > 20, "the leader compacted its log");
    for (let i = 0; i < 5; i++) await leader.node.apply(Uint8Array.of(3));
    const rejoined = await start(followerIndex, join(root, `n${followerIndex}`));
    members[followerIndex] = rejoined;
    await waitFor(
      () => rejoined.fsm.value === leader.fsm.value,
      "the wiped follower to reach the leader's state",
      15_000,
    );
    assert.equal(rejoined.fsm.value, 55);
    assert.ok(rejoined.node.getStatus().lastSnapshotIndex > 20, "it installed the leader's snapshot");
  } finally {
    await Promise.all(members.map((m) => m.node.shutdown()));
    rmSync(root, { recursive: true, force: true });
  }
});
