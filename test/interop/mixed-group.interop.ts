/**
 * A counter group of two braft nodes and one tsraft node (issue 15): election, replication under
 * braft's own load client, leadership moved both ways by braft_cli, a wiped tsraft node catching
 * up by installing braft's snapshot, and then leadership moved to it. After each step every node
 * commits and applies the same index, read from each node's /raft_stat.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { waitFor } from "./processes.js";
import {
  committedIndex,
  committedPast,
  startBraftCounterClient,
  transferByBraftCli,
  transferByTsraftCli,
  tsraftCli,
  writeThroughLeader,
} from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

describe("MixedGroup: 2 braft + 1 tsraft counter servers", { skip }, () => {
  test("election, replication, transfers both ways by both CLIs, snapshot installs both ways, membership", async (t) => {
    const cluster = await MixedCluster.start(["braft", "braft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
    });
    const [braftA, braftB] = cluster.of("braft") as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const tsraft = cluster.of("tsraft")[0]!;
    const clientDir = await mkdtemp(join(tmpdir(), "tsraft-interop-client-"));
    try {
      await t.test("Election: one leader, every node follows it and commits its first entry", async () => {
        const leader = await cluster.leader();
        const index = await cluster.converged(1);
        t.diagnostic(`leader ${leader.kind} ${leader.peer}, committed ${index}`);
      });

      await t.test("Replication: braft's counter_client writes for 3 s; all nodes converge", async () => {
        const before = await committedIndex(cluster);
        const client = startBraftCounterClient(cluster.conf, clientDir, 8);
        try {
          await committedPast(cluster, before + 200);
          await new Promise((resolve) => setTimeout(resolve, 3000));
        } finally {
          await client.kill();
        }
        assert.ok(!client.lines.some((l) => l.startsWith("F")), `no FATAL from the client\n${client.tail()}`);
        const index = await cluster.converged(before + 200);
        t.diagnostic(`committed ${before} -> ${index}`);
      });

      await t.test(
        "TransferToTsraft: braft_cli transfer_leader moves leadership to the tsraft node",
        async () => {
          await transferByBraftCli(cluster, tsraft);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(`converged at ${await cluster.converged()}`);
        },
      );

      await t.test(
        "TransferToBraft: braft_cli transfer_leader, served by tsraft's CliService, moves it back",
        async () => {
          await transferByBraftCli(cluster, braftA);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(`converged at ${await cluster.converged()}`);
        },
      );

      await t.test(
        "InstallSnapshotBraftToTsraft: a wiped tsraft node catches up from braft's snapshot",
        async () => {
          await cluster.kill(tsraft);
          await cluster.wipe(tsraft);
          // braft truncates its log only up to the snapshot before the last (log_manager.cpp's
          // set_snapshot keeps entries for slow followers): two snapshots compact it.
          for (let round = 0; round < 2; round++) {
            await writeThroughLeader(cluster, 20);
            for (const node of [braftA, braftB]) await cluster.braftCli("snapshot", [`--peer=${node.peer}`]);
          }
          await writeThroughLeader(cluster, 10);
          const target = await committedIndex(cluster);
          await cluster.startNode(tsraft);
          // Writes after the install make the installed node print its counter, compared with all.
          await writeThroughLeader(cluster, 5);
          const { committed: index } = await cluster.convergedState(target + 5);
          const stat = await cluster.stat(tsraft);
          assert.ok(
            Number(stat?.get("last_snapshot_index")) > 0,
            `tsraft installed a snapshot: ${await cluster.describe()}`,
          );
          t.diagnostic(`tsraft snapshot at ${stat?.get("last_snapshot_index")}, converged at ${index}`);
        },
      );

      await t.test(
        "TransferAfterInstall: braft_cli moves leadership to the tsraft node that installed braft's snapshot",
        async () => {
          await transferByBraftCli(cluster, tsraft);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(`converged at ${await cluster.converged()}`);
        },
      );

      await t.test(
        "TransferByTsraftCli: the tsraft CLI moves leadership to a braft node and back",
        async () => {
          await transferByTsraftCli(cluster, braftB);
          await writeThroughLeader(cluster, 10);
          await transferByTsraftCli(cluster, tsraft);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(`converged at ${await cluster.converged()}`);
        },
      );

      await t.test(
        "InstallSnapshotTsraftToBraft: a wiped braft node catches up from the tsraft leader's snapshot",
        async () => {
          await cluster.kill(braftB);
          await cluster.wipe(braftB);
          // tsraft keeps its log back to the previous snapshot, as braft does: two snapshots.
          for (let round = 0; round < 2; round++) {
            await writeThroughLeader(cluster, 20);
            await tsraftCli("snapshot", [`--peer=${tsraft.peer}`]);
          }
          await writeThroughLeader(cluster, 10);
          const target = await committedIndex(cluster);
          await cluster.startNode(braftB);
          // Writes after the install make the installed node print its counter, compared with all.
          await writeThroughLeader(cluster, 5);
          const { committed: index } = await cluster.convergedState(target + 5);
          const stat = await cluster.stat(braftB);
          assert.ok(
            Number(stat?.get("last_snapshot_index")) > 0,
            `braft installed a snapshot: ${await cluster.describe()}`,
          );
          await transferByBraftCli(cluster, braftB);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(
            `braft snapshot at ${stat?.get("last_snapshot_index")}, converged at ${index}, then ${await cluster.converged(index + 10)}`,
          );
        },
      );

      await t.test(
        "MembershipBothCLIs: braft_cli removes and re-adds the tsraft node, the tsraft CLI a braft node",
        async () => {
          const peersOfLeader = async (): Promise<string> =>
            String((await cluster.stat(await cluster.leader()))?.get("peers"));
          await cluster.braftCli("remove_peer", [`--peer=${tsraft.peer}`, `--conf=${cluster.conf}`]);
          await waitFor("the tsraft node out of the leader's conf", async () =>
            (await peersOfLeader()).includes(`:${tsraft.port}:`) ? undefined : true,
          );
          await writeThroughLeader(cluster, 10);
          await cluster.braftCli("add_peer", [
            `--peer=${tsraft.peer}`,
            `--conf=${braftA.peer},${braftB.peer}`,
          ]);
          await writeThroughLeader(cluster, 10);
          const back = await cluster.converged();
          const others = cluster.nodes
            .filter((n) => n !== braftA)
            .map((n) => n.peer)
            .join(",");
          await tsraftCli("remove_peer", [`--peer=${braftA.peer}`, `--conf=${cluster.conf}`]);
          await waitFor("braft node A out of the leader's conf", async () =>
            (await peersOfLeader()).includes(`:${braftA.port}:`) ? undefined : true,
          );
          await writeThroughLeader(cluster, 10);
          await tsraftCli("add_peer", [`--peer=${braftA.peer}`, `--conf=${others}`]);
          await writeThroughLeader(cluster, 10);
          t.diagnostic(
            `converged at ${back} with the tsraft node back, at ${await cluster.converged(back + 20)} with braft A back`,
          );
        },
      );
    } catch (error) {
      t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}`);
      throw error;
    } finally {
      await cluster.stopAll();
      await rm(clientDir, { recursive: true, force: true });
    }
  });
});
