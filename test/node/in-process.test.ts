/**
 * A cluster in one process on real time: the in-process transport and memory:// storage.
 * Timing is never asserted here (that is the simulator's job); the test polls with deadlines.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftNode, type Iterator, type StateMachine } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { pollUntil } from "../support/poll.js";

const peers = ["127.0.0.1:9001:0", "127.0.0.1:9002:0", "127.0.0.1:9003:0"];

class Counter implements StateMachine {
  value = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.value += entry.data[0] ?? 0;
      entry.done?.setResult?.(this.value);
    }
  }
}

async function startNode(
  network: InProcessNetwork,
  peer: string,
  run: string,
): Promise<{ node: RaftNode; fsm: Counter }> {
  const fsm = new Counter();
  const node = new RaftNode("counter", peer);
  const name = `${run}/${peer}`;
  await node.init({
    fsm,
    server: network.host(peer.split(":").slice(0, 2).join(":")),
    initialConf: peers.join(","),
    electionTimeoutMs: 150,
    logUri: `memory://${name}/log`,
    raftMetaUri: `memory://${name}/meta`,
  });
  return { node, fsm };
}

test("InProcessCluster: three nodes elect, replicate, and a restarted node keeps its log", async () => {
  const run = `run-${process.pid}-${Date.now()}`;
  const network = new InProcessNetwork();
  const members = await Promise.all(peers.map((peer) => startNode(network, peer, run)));
  const running = new Set(members.map((m) => m.node));
  try {
    await exercise(network, run, members, running);
  } finally {
    await Promise.all([...running].map((node) => node.shutdown()));
  }
});

async function exercise(
  network: InProcessNetwork,
  run: string,
  members: { node: RaftNode; fsm: Counter }[],
  running: Set<RaftNode>,
): Promise<void> {
  const leader = await pollUntil("a leader", () => members.find((m) => m.node.isLeader()));
  for (let i = 0; i < 10; i++) {
    const result = await leader.node.apply(Uint8Array.of(i + 1));
    assert.equal(result.result, ((i + 1) * (i + 2)) / 2);
  }
  await pollUntil("every node applied", () => (members.every((m) => m.fsm.value === 55) ? true : undefined));

  const follower = members.find((m) => m !== leader) as { node: RaftNode; fsm: Counter };
  const peer = follower.node.peerId.toString();
  await follower.node.shutdown();
  running.delete(follower.node);
  const restarted = await startNode(network, peer, run);
  running.add(restarted.node);
  assert.ok(restarted.node.getStatus().lastIndex >= 11, "the log survived the restart");
  await pollUntil("the restarted node re-applied", () => (restarted.fsm.value === 55 ? true : undefined));
}
