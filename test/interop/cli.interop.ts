/**
 * Each CLI administering the other implementation's nodes, every command, each checked by its
 * effect on the group (the leader's /raft_stat, the target's snapshot index, who leads), not by
 * its exit code: `braft_cli` on a tsraft group and the `tsraft` CLI on a braft group. Each group
 * also gets a spare braft and a spare tsraft node (started with an empty configuration), added
 * with add_peer, so the group turns mixed; removals take peers of either kind out.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canonicalPeerKey } from "../../src/util/peer-text.js";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster, type InteropNode, type NodeKind } from "./mixed-cluster.js";
import { waitFor } from "./processes.js";
import {
  cliRun,
  committedIndex,
  transferBy,
  waitForPeers,
  writeAndConverge,
  writeThroughLeader,
} from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

type Cli = "braft_cli" | "tsraft";

/** Writes `count` entries and says where every member converged, for a diagnostic. */
async function converge(cluster: MixedCluster, count: number): Promise<string> {
  const state = await writeAndConverge(cluster, count);
  return `${cluster.members.length} members converged at ${state.committed}, value ${state.value}`;
}

/** A running member that does not lead, of `kind` when given. */
async function follower(cluster: MixedCluster, kind?: NodeKind): Promise<InteropNode> {
  const leader = await cluster.leader();
  const node = cluster.running().find((n) => n !== leader && (kind === undefined || n.kind === kind));
  assert.ok(node !== undefined, `a follower${kind === undefined ? "" : ` of kind ${kind}`}`);
  return node;
}

const CASES: readonly { cli: Cli; kind: NodeKind }[] = [
  { cli: "braft_cli", kind: "tsraft" },
  { cli: "tsraft", kind: "braft" },
];

for (const { cli, kind } of CASES) {
  describe(`CliAdministers: ${cli} on a ${kind} group`, { skip }, () => {
    test("get_leader, snapshot, transfer_leader, add_peer, remove_peer, change_peers, reset_peer take effect", async (t) => {
      const cluster = await MixedCluster.start([kind, kind, kind], {
        electionTimeoutMs: 2000,
        snapshotIntervalS: 3600,
        spares: ["braft", "tsraft"],
      });
      const run = (command: string, args: readonly string[]): Promise<string> =>
        cliRun(cli, cluster, command, args);
      try {
        if (cli === "tsraft") {
          await t.test("GetLeader: names the leader braft's /raft_stat shows", async () => {
            const leader = await cluster.leader();
            const output = await run("get_leader", [`--conf=${cluster.conf}`]);
            const printed = output.trim().split("\n").at(-1) ?? "";
            assert.equal(canonicalPeerKey(printed.trim()), leader.peer, output);
          });
        }

        await t.test("Snapshot: the target's last_snapshot_index reaches the committed index", async () => {
          await writeThroughLeader(cluster, 10);
          const target = await follower(cluster);
          const committed = await committedIndex(cluster);
          await cluster.converged(committed);
          await run("snapshot", [`--peer=${target.peer}`]);
          const index = await waitFor(`a snapshot on ${target.peer}`, async () => {
            const snapshot = Number((await cluster.stat(target))?.get("last_snapshot_index"));
            return snapshot >= committed ? snapshot : undefined;
          });
          t.diagnostic(`${target.kind} ${target.peer} snapshot at ${index}`);
        });

        await t.test("TransferLeader: leadership moves to a follower", async () => {
          await transferBy(cli, cluster, await follower(cluster, kind));
          t.diagnostic(await converge(cluster, 5));
        });

        for (const spare of cluster.spares) {
          await t.test(`AddPeer: a new ${spare.kind} node joins and catches up`, async () => {
            await run("add_peer", [`--peer=${spare.peer}`, `--conf=${cluster.conf}`]);
            await waitForPeers(cluster, [...cluster.members, spare]);
            t.diagnostic(await converge(cluster, 5));
          });
        }

        const other: NodeKind = kind === "braft" ? "tsraft" : "braft";
        await t.test(`TransferLeaderToJoined: leadership moves to the joined ${other} node`, async () => {
          await transferBy(cli, cluster, cluster.spares.find((n) => n.kind === other) as InteropNode);
          t.diagnostic(await converge(cluster, 5));
        });

        await t.test(`RemovePeer: a ${kind} follower leaves the configuration`, async () => {
          const victim = await follower(cluster, kind);
          await run("remove_peer", [`--peer=${victim.peer}`, `--conf=${cluster.conf}`]);
          await waitForPeers(
            cluster,
            cluster.members.filter((n) => n !== victim),
          );
          await cluster.kill(victim);
          t.diagnostic(`${victim.peer} removed; ${await converge(cluster, 5)}`);
        });

        await t.test(
          `ChangePeers: the configuration becomes one ${kind} node and both joined nodes`,
          async () => {
            const dropped = await follower(cluster, kind);
            const next = cluster.members.filter((n) => n !== dropped);
            const newPeers = next.map((n) => n.peer).join(",");
            await run("change_peers", [`--new_peers=${newPeers}`, `--conf=${cluster.conf}`]);
            await waitForPeers(cluster, next);
            await cluster.kill(dropped);
            t.diagnostic(`now ${newPeers}; ${await converge(cluster, 5)}`);
          },
        );

        await t.test(
          `ResetPeer: the last ${kind} node, alone after a lost majority, is reset to itself and leads`,
          async () => {
            const survivor = cluster.members.find((n) => n.kind === kind) as InteropNode;
            for (const node of cluster.members.filter((n) => n !== survivor)) await cluster.kill(node);
            await run("reset_peer", [`--peer=${survivor.peer}`, `--new_peers=${survivor.peer}`]);
            cluster.setMembers([survivor]);
            const leader = await cluster.leader();
            assert.equal(leader, survivor);
            assert.deepEqual(await cluster.peersOf(survivor), [survivor.peer]);
            t.diagnostic(await converge(cluster, 5));
          },
        );
      } catch (error) {
        t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}`);
        throw error;
      } finally {
        await cluster.stopAll();
      }
    });
  });
}
