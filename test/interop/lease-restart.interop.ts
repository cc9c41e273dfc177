/**
 * Mixed counter groups (2 braft + 1 tsraft, 1 braft + 2 tsraft) with the leader lease on
 * (braft's `-raft_enable_leader_lease=true`, the same flag on tsraft's counter): writes and
 * lease reads go on, leadership moves both ways by both CLIs, and a braft leader and a tsraft
 * leader are each killed with -9 and restarted on their data directories. After each step every
 * node has committed and applied the same index and its counter shows the same value.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster, type InteropNode, type NodeKind } from "./mixed-cluster.js";
import { httpGet } from "./processes.js";
import { killAndRestart, readThroughLeader, transferBy, writeAndConverge } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

/** Writes `count`, reads the counter through the leader, and checks every node agrees with it. */
async function writeReadConverge(cluster: MixedCluster, count: number): Promise<string> {
  const state = await writeAndConverge(cluster, count);
  const read = await readThroughLeader(cluster);
  assert.equal(read, state.value, `the leader's get matches the value every node applied`);
  return `committed ${state.committed}, value ${state.value}`;
}

const GROUPS: readonly (readonly NodeKind[])[] = [
  ["braft", "braft", "tsraft"],
  ["braft", "tsraft", "tsraft"],
];

for (const kinds of GROUPS) {
  const name = kinds.join(" + ");
  describe(`LeaderLeaseMixedGroup: ${name} with raft_enable_leader_lease`, { skip }, () => {
    test("lease reads and writes, transfers both ways by both CLIs, kill -9 and restart of a braft and a tsraft leader", async (t) => {
      const cluster = await MixedCluster.start(kinds, {
        electionTimeoutMs: 2000,
        snapshotIntervalS: 3600,
        leaderLease: true,
      });
      const braftNode = cluster.of("braft")[0] as InteropNode;
      const tsraftNode = cluster.of("tsraft")[0] as InteropNode;
      try {
        await t.test("LeaseOn: braft's /flags shows the lease on; writes and reads converge", async () => {
          const flags = await httpGet(braftNode.port, "/flags/raft_enable_leader_lease");
          assert.match(flags, /raft_enable_leader_lease[^\n]*true/, flags);
          t.diagnostic(await writeReadConverge(cluster, 20));
        });

        for (const cli of ["braft_cli", "tsraft"] as const) {
          await t.test(
            `LeaseTransfer: ${cli} transfer_leader to the tsraft node, then to a braft node`,
            async () => {
              await transferBy(cli, cluster, tsraftNode);
              const toTsraft = await writeReadConverge(cluster, 10);
              await transferBy(cli, cluster, braftNode);
              t.diagnostic(`under tsraft: ${toTsraft}; under braft: ${await writeReadConverge(cluster, 10)}`);
            },
          );
        }

        for (const [what, victim] of [
          ["braft", braftNode],
          ["tsraft", tsraftNode],
        ] as const) {
          await t.test(
            `LeaseKillRestart: the ${what} leader killed -9 and restarted on its data`,
            async () => {
              await transferBy("braft_cli", cluster, victim);
              await killAndRestart(cluster, victim, 10);
              const converged = await writeReadConverge(cluster, 10);
              const leader = await cluster.leader();
              t.diagnostic(`leader after the restart: ${leader.kind} ${leader.peer}; ${converged}`);
            },
          );
        }

        await t.test("LeaseKillRestartFollowers: each follower killed -9 and restarted in turn", async () => {
          const leader = await cluster.leader();
          for (const node of cluster.nodes.filter((n) => n !== leader))
            await killAndRestart(cluster, node, 5);
          t.diagnostic(await writeReadConverge(cluster, 5));
        });
      } catch (error) {
        t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}`);
        throw error;
      } finally {
        await cluster.stopAll();
      }
    });
  });
}
