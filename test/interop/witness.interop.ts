/**
 * A tsraft witness in a braft-led counter group (issue 20, item 1): two of braft's counter
 * servers and tsraft's counter server run with `--witness`, named `127.0.0.1:port:0:1` in every
 * node's configuration, as braft names a witness. braft's leader strips entry data for it (the
 * role decides, braft's Replicator::_prepare_entry), never picks it as a successor, and counts
 * its vote and acknowledgements; the witness applies nothing and never leads.
 *
 * The reverse (a braft witness in a tsraft-led group) needs a braft binary whose server sets
 * NodeOptions::witness: braft's example servers have no such option, so it is not tested here.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { EntryType } from "../../src/core/types.js";
import { createLogStorageFromUri } from "../../src/storage/registry.js";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { committedIndex, committedPast, startBraftCounterClient, writeThroughLeader } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

describe("WitnessInBraftGroup: 2 braft counter servers + 1 tsraft witness", { skip }, () => {
  test("braft leads, replicates through the witness, fails over with its vote; the witness applies nothing", async (t) => {
    const cluster = await MixedCluster.start(["braft", "braft", "tsraft"], {
      electionTimeoutMs: 2000,
      snapshotIntervalS: 3600,
      tsraftWitnesses: true,
    });
    const [braftA, braftB] = cluster.of("braft") as [(typeof cluster.nodes)[0], (typeof cluster.nodes)[0]];
    const witness = cluster.of("tsraft")[0]!;
    const clientDir = await mkdtemp(join(tmpdir(), "tsraft-interop-client-"));
    try {
      await t.test("Election: a braft node leads; the witness follows it", async () => {
        const leader = await cluster.leader();
        assert.equal(leader.kind, "braft", `the leader is ${leader.peer}`);
        assert.ok(
          (await cluster.peersOf(leader)).includes(witness.peer),
          "braft's conf names the witness :1",
        );
        await cluster.converged(1);
      });

      await t.test(
        "Replication: braft's counter_client writes; the witness commits and applies the same index without applying a task",
        async () => {
          const before = await committedIndex(cluster);
          const client = startBraftCounterClient(cluster.conf, clientDir, 8);
          try {
            await committedPast(cluster, before + 200);
          } finally {
            await client.kill();
          }
          const index = await cluster.converged(before + 200);
          assert.equal(cluster.counterState(witness), undefined, "the witness's counter applied no task");
          assert.ok(cluster.counterState(braftA) !== undefined || cluster.counterState(braftB) !== undefined);
          t.diagnostic(`committed ${before} -> ${index}`);
        },
      );

      await t.test(
        "LeaderFailWithWitness: kill -9 of the braft leader; the other braft node wins with the witness's vote",
        async () => {
          const leader = await cluster.leader();
          const other = leader === braftA ? braftB : braftA;
          await cluster.kill(leader);
          const next = await cluster.leader();
          assert.equal(next, other, `the other braft node leads: ${await cluster.describe()}`);
          const before = await committedIndex(cluster);
          await writeThroughLeader(cluster, 10);
          const committed = await cluster.converged(before + 10);
          assert.equal(cluster.counterState(witness), undefined, "still no task applied on the witness");
          t.diagnostic(`new leader ${next.peer}, converged at ${committed}`);
          await cluster.startNode(leader);
          await cluster.converged(committed);
        },
      );

      await t.test(
        "WitnessLogHoldsNoData: braft sent the witness its DATA entries without their data",
        async () => {
          await cluster.kill(witness);
          const log = createLogStorageFromUri(`local://${join(witness.dir, "data", "log")}`, {
            owner: { group: cluster.group, peer: witness.peer },
          });
          await log.init(() => undefined);
          try {
            const data: number[] = [];
            for (let index = log.firstLogIndex(); index <= log.lastLogIndex(); index++) {
              const entry = log.getEntry(index);
              if (entry?.type === EntryType.DATA) data.push(entry.data.length);
            }
            assert.ok(data.length >= 200, `the witness logged ${data.length} DATA entries`);
            assert.ok(
              data.every((length) => length === 0),
              "all without data",
            );
          } finally {
            await log.close();
          }
        },
      );
    } catch (error) {
      t.diagnostic(cluster.tails());
      throw error;
    } finally {
      await cluster.stopAll();
      await rm(clientDir, { recursive: true, force: true });
    }
  });
});
