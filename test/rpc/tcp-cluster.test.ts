/**
 * RaftNodes over real TCP in one process: three RaftServers on loopback carry two groups.
 * The leader's server is stopped (its peers see connections drop, as with kill -9), a new
 * leader is elected, and the old node restarts on the same port and catches up. The
 * multi-process version lives with the node shell's real-process tests.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RaftNode, type Iterator, type StateMachine } from "../../src/index.js";
import type { RaftServer } from "../../src/server.js";
import { startServer, stopAll, waitFor } from "./helpers.js";

after(stopAll);

class Counter implements StateMachine {
  value = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.value += entry.data[0] ?? 0;
      entry.done?.setResult?.(this.value);
    }
  }
}

interface Member {
  readonly server: RaftServer;
  readonly node: RaftNode;
  readonly fsm: Counter;
}

const run = `tcp-${process.pid}-${Date.now()}`;

async function startNode(server: RaftServer, group: string, peers: readonly string[]): Promise<Member> {
  const fsm = new Counter();
  const peer = `${server.address}:0`;
  const node = new RaftNode(group, peer);
  await node.init({
    fsm,
    server,
    initialConf: peers.join(","),
    electionTimeoutMs: 300,
    logUri: `memory://${run}/${group}/${peer}/log`,
    raftMetaUri: `memory://${run}/${group}/${peer}/meta`,
  });
  return { server, node, fsm };
}

async function leaderOf(members: readonly Member[]): Promise<Member> {
  let leader: Member | undefined;
  await waitFor(() => (leader = members.find((m) => m.node.isLeader())) !== undefined, "a leader", 10_000);
  return leader as Member;
}

async function applyAll(leader: Member, values: readonly number[]): Promise<void> {
  for (const value of values) await leader.node.apply(Uint8Array.of(value));
}

test("two groups replicate over three RaftServers and survive losing the leader's server", async () => {
  const servers = await Promise.all([startServer(), startServer(), startServer()]);
  const peers = servers.map((s) => `${s.address}:0`);
  const groupA = await Promise.all(servers.map((s) => startNode(s, "A", peers)));
  const groupB = await Promise.all(servers.map((s) => startNode(s, "B", peers)));

  await applyAll(await leaderOf(groupA), [1, 2, 3]);
  await applyAll(await leaderOf(groupB), [10, 20]);
  await waitFor(() => groupA.every((m) => m.fsm.value === 6), "group A applied everywhere", 10_000);
  await waitFor(() => groupB.every((m) => m.fsm.value === 30), "group B applied everywhere", 10_000);

  // Lose the server of A's leader: both its nodes vanish from the network at once.
  const lost = await leaderOf(groupA);
  const lostIndex = groupA.indexOf(lost);
  await lost.server.stop();
  await Promise.all([lost.node.shutdown(), groupB[lostIndex]?.node.shutdown()]);
  const survivorsA = groupA.filter((_, i) => i !== lostIndex);
  const newLeader = await leaderOf(survivorsA);
  await applyAll(newLeader, [4]);
  await waitFor(() => survivorsA.every((m) => m.fsm.value === 10), "survivors applied", 10_000);

  // Restart it on the same port; it catches up in both groups.
  const restartedServer = await startServer({}, lost.server.address);
  const rejoinedA = await startNode(restartedServer, "A", peers);
  const rejoinedB = await startNode(restartedServer, "B", peers);
  await waitFor(() => rejoinedA.fsm.value === 10, "the restarted node caught up in A", 10_000);
  await waitFor(() => rejoinedB.fsm.value === 30, "the restarted node caught up in B", 10_000);
  assert.equal(newLeader.fsm.value, 10);

  const live = [...survivorsA, ...groupB.filter((_, i) => i !== lostIndex), rejoinedA, rejoinedB];
  await Promise.all(live.map((m) => m.node.shutdown()));
});
