/**
 * Smaller parts of braft's API surface: the user guide's add_peer(old_peers, peer) and
 * on_configuration_committed on every node of the group.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Iterator } from "../../src/node/iterator.js";
import type { Configuration } from "../../src/node/peer-id.js";
import type { StateMachine } from "../../src/node/state-machine.js";
import { bytes, rejectionOf, withCluster } from "./helpers.js";

test("AddPeerOldPeers: add_peer(old_peers, peer) adds only while the peers are old_peers; a retry succeeds", async () => {
  await withCluster({ seed: 91, nodes: 4, initialVoters: 3 }, async (cluster) => {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    await cluster.applyAndWait(bytes("x"));
    const node = cluster.node(leader);
    const [a, b, c, d] = cluster.peers as [string, string, string, string];
    const wrong = await rejectionOf(cluster.settle(node.addPeer([a, b], d)));
    assert.equal(wrong.code, "EINVAL");
    assert.match(wrong.message, /old_peers dismatch/);
    assert.equal(wrong.outcome, "refused");
    assert.deepEqual(node.listPeers().map(String), [a, b, c], "nothing changed");
    await cluster.settle(node.addPeer([a, b, c], d), 20_000);
    assert.deepEqual(node.listPeers().map(String), [a, b, c, d]);
    // The same call again (a client retrying after a lost answer) succeeds without a change.
    await cluster.settle(node.addPeer(`${a},${b},${c}`, d));
    assert.deepEqual(node.listPeers().map(String), [a, b, c, d]);
  });
});

test("ConfigurationCommitted: every node, leader and followers, hears each committed configuration", async () => {
  const heard = new Map<string, string[]>();
  const fsmFactory = (peer: string): StateMachine => {
    const confs: string[] = [];
    heard.set(peer, confs);
    return {
      onApply(iter: Iterator) {
        for (; iter.valid(); iter.next());
      },
      onConfigurationCommitted(conf: Configuration) {
        confs.push(conf.toString());
      },
    };
  };
  await withCluster({ seed: 92, nodes: 4, initialVoters: 3, fsmFactory }, async (cluster) => {
    await cluster.startAll();
    const leader = (await cluster.waitForLeader()) as string;
    await cluster.applyAndWait(bytes("x"));
    const [a, b, c, d] = cluster.peers as [string, string, string, string];
    await cluster.settle(cluster.node(leader).addPeer(d), 20_000);
    await cluster.settle(cluster.node(leader).removePeer(leader === a ? b : a), 20_000);
    await cluster.scheduler.runUntil(() => cluster.converged(), 10_000);
    const removed = leader === a ? b : a;
    const expected = [
      `${a},${b},${c}`,
      `${a},${b},${c},${d}`,
      [a, b, c, d].filter((p) => p !== removed).join(","),
    ];
    for (const peer of cluster.peers.filter((p) => p !== removed)) {
      // Each stable configuration once, in log order; the joint stages are not reported (braft).
      assert.deepEqual(heard.get(peer), expected, `${peer}${peer === leader ? " (leader)" : ""}`);
    }
  });
});
