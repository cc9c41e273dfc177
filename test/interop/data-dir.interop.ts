/**
 * A group of one braft and two tsraft counter servers whose members swap implementations on
 * their own data directories: a tsraft node's directory restarted under braft's counter_server,
 * a braft node's under tsraft's. Both lay out `./data` (log, raft_meta, snapshot) as braft's
 * local storage does, so the swapped node resumes with its log, vote and snapshot.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { waitFor } from "./processes.js";
import { committedIndex, transferByBraftCli, writeThroughLeader } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

describe("DataDirSwap: 1 braft + 2 tsraft counter servers trading data directories", { skip }, () => {
  test("braft restarts on a tsraft node's data, tsraft on a braft node's; each converges and leads", async (t) => {
    const cluster = await MixedCluster.start(["braft", "tsraft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
    });
    const [braftNode, tsraftA, tsraftB] = cluster.nodes as [
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
      (typeof cluster.nodes)[0],
    ];
    try {
      await t.test("MixedGroupOneBraft: election, writes, a tsraft snapshot; all converge", async () => {
        await cluster.leader();
        await writeThroughLeader(cluster, 30);
        await cluster.braftCli("snapshot", [`--peer=${tsraftA.peer}`]);
        await writeThroughLeader(cluster, 10);
        const state = await cluster.convergedState(41);
        t.diagnostic(`converged at ${state.committed}, counter ${state.value}`);
      });

      await t.test(
        "BraftOnTsraftData: braft's counter_server restarted on tsraft's data directory",
        async () => {
          const before = await committedIndex(cluster);
          await cluster.kill(tsraftA);
          await cluster.startNode(tsraftA, "braft");
          await writeThroughLeader(cluster, 10);
          const { committed: index, value } = await cluster.convergedState(before + 10);
          const stat = await cluster.stat(tsraftA);
          assert.ok(Number(stat?.get("last_snapshot_index")) > 0, "braft found tsraft's snapshot");
          t.diagnostic(`braft on tsraft's data: counter ${value} at ${index}, like every node`);
          await transferByBraftCli(cluster, tsraftA);
          await writeThroughLeader(cluster, 5);
          t.diagnostic(
            `converged at ${index}, then ${await cluster.converged(index + 5)} under ${tsraftA.peer}`,
          );
        },
      );

      await t.test(
        "TsraftOnBraftData: tsraft's counter server restarted on braft's data directory and snapshot",
        async () => {
          await writeThroughLeader(cluster, 10);
          const snapshotAt = await committedIndex(cluster);
          await cluster.converged(snapshotAt);
          await cluster.braftCli("snapshot", [`--peer=${braftNode.peer}`]);
          await waitFor("braft's snapshot", async () =>
            Number((await cluster.stat(braftNode))?.get("last_snapshot_index")) >= snapshotAt
              ? true
              : undefined,
          );
          await writeThroughLeader(cluster, 5);
          const before = await committedIndex(cluster);
          await cluster.kill(braftNode);
          await cluster.startNode(braftNode, "tsraft");
          const loaded = Number((await cluster.stat(braftNode))?.get("last_snapshot_index"));
          assert.ok(loaded >= snapshotAt, `tsraft loaded braft's snapshot (at ${loaded})`);
          await writeThroughLeader(cluster, 10);
          const { committed: index, value } = await cluster.convergedState(before + 10);
          t.diagnostic(
            `tsraft on braft's data: snapshot ${loaded}, counter ${value} at ${index}, like every node`,
          );
          await transferByBraftCli(cluster, braftNode);
          await writeThroughLeader(cluster, 5);
          t.diagnostic(
            `converged at ${index}, then ${await cluster.converged(index + 5)} under ${braftNode.peer}`,
          );
        },
      );

      await t.test("TransferToRemainingTsraft: leadership moves to the untouched tsraft node", async () => {
        await transferByBraftCli(cluster, tsraftB);
        await writeThroughLeader(cluster, 5);
        const state = await cluster.convergedState();
        t.diagnostic(`converged at ${state.committed}, counter ${state.value}`);
      });
    } catch (error) {
      t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}`);
      throw error;
    } finally {
      await cluster.stopAll();
    }
  });
});
