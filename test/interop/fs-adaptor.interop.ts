/**
 * NodeOptions.snapshotFileSystemAdaptor against braft (issue 20, item 2): a counter group of two
 * braft nodes and one tsraft node whose snapshots are encrypted at rest (`--snapshot_key`, an
 * AES-256-CTR FileSystemAdaptor). The tsraft node, wiped, installs braft's snapshot and writes it
 * encrypted; then, leading, it serves its encrypted snapshot to a wiped braft node, which gets
 * the plaintext braft reads. Every node converges on the same counter.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster, type InteropNode } from "./mixed-cluster.js";
import { committedIndex, transferByBraftCli, tsraftCli, writeThroughLeader } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

/** The bytes of `file` in the newest snapshot of `node`. */
async function snapshotFile(node: InteropNode, file: string): Promise<Buffer> {
  const dir = join(node.dir, "data", "snapshot");
  const newest = (await readdir(dir))
    .filter((name) => name.startsWith("snapshot_"))
    .sort()
    .at(-1);
  assert.ok(newest !== undefined, `${node.peer} has a snapshot`);
  return readFile(join(dir, newest, file));
}

/** braft's counter snapshot file: ProtoBufFile framing, a 4-byte length then the message. */
function isProtoBufFile(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes.readUInt32BE(0) === bytes.length - 4;
}

describe(
  "EncryptedSnapshots: 2 braft + 1 tsraft counter servers, tsraft with --snapshot_key",
  { skip },
  () => {
    test("braft's snapshot installed into an encrypting adaptor, and served from one to braft", async (t) => {
      const cluster = await MixedCluster.start(["braft", "braft", "tsraft"], {
        electionTimeoutMs: 2000,
        snapshotIntervalS: 3600,
        tsraftFlags: [`--snapshot_key=${randomBytes(32).toString("hex")}`],
      });
      const [braftA, braftB] = cluster.of("braft") as [InteropNode, InteropNode];
      const tsraft = cluster.of("tsraft")[0] as InteropNode;
      try {
        await cluster.leader();
        await writeThroughLeader(cluster, 10);

        await t.test(
          "InstallBraftSnapshotEncrypted: a wiped tsraft node installs braft's snapshot",
          async () => {
            await cluster.kill(tsraft);
            await cluster.wipe(tsraft);
            // braft compacts its log up to the snapshot before the last: two snapshots.
            for (let round = 0; round < 2; round++) {
              await writeThroughLeader(cluster, 20);
              for (const node of [braftA, braftB])
                await cluster.braftCli("snapshot", [`--peer=${node.peer}`]);
            }
            await writeThroughLeader(cluster, 10);
            const target = await committedIndex(cluster);
            await cluster.startNode(tsraft);
            await writeThroughLeader(cluster, 5);
            await cluster.convergedState(target + 5);
            const stat = await cluster.stat(tsraft);
            assert.ok(
              Number(stat?.get("last_snapshot_index")) > 0,
              `tsraft installed: ${await cluster.describe()}`,
            );
            assert.equal(
              isProtoBufFile(await snapshotFile(braftA, "data")),
              true,
              "braft's file is plaintext",
            );
            assert.equal(
              isProtoBufFile(await snapshotFile(tsraft, "data")),
              false,
              "tsraft's copy is encrypted",
            );
          },
        );

        await t.test(
          "ServeEncryptedSnapshotToBraft: a wiped braft node installs the tsraft leader's snapshot",
          async () => {
            await transferByBraftCli(cluster, tsraft);
            await cluster.kill(braftB);
            await cluster.wipe(braftB);
            for (let round = 0; round < 2; round++) {
              await writeThroughLeader(cluster, 20);
              await tsraftCli("snapshot", [`--peer=${tsraft.peer}`]);
            }
            assert.equal(
              isProtoBufFile(await snapshotFile(tsraft, "data")),
              false,
              "tsraft's own snapshot is encrypted",
            );
            await writeThroughLeader(cluster, 10);
            const target = await committedIndex(cluster);
            await cluster.startNode(braftB);
            await writeThroughLeader(cluster, 5);
            const { committed } = await cluster.convergedState(target + 5);
            const stat = await cluster.stat(braftB);
            assert.ok(
              Number(stat?.get("last_snapshot_index")) > 0,
              `braft installed: ${await cluster.describe()}`,
            );
            assert.equal(isProtoBufFile(await snapshotFile(braftB, "data")), true, "braft got the plaintext");
            t.diagnostic(`converged at ${committed}`);
          },
        );
      } finally {
        await cluster.stopAll();
      }
    });
  },
);
