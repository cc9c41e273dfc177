/**
 * Captures the files a braft counter_server writes, as fixtures for `npm test`
 * (test/rpc/fixtures/braft/disk): `node dist/test/interop/capture-disk.js [--braft-bin=DIR]`.
 * A 3-node braft group with 1 KiB log segments takes 40 writes, a snapshot on one node, then
 * 10 more writes; that node's raft_meta, log directory and snapshot are copied out.
 */
import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { braftUnavailable, REPO_ROOT } from "./braft-bin.js";
import { MixedCluster } from "./mixed-cluster.js";
import { writeThroughLeader } from "./steps.js";

const OUT = join(REPO_ROOT, "test", "rpc", "fixtures", "braft", "disk");

async function main(): Promise<void> {
  const unavailable = braftUnavailable();
  if (unavailable !== false) throw new Error(unavailable);
  const cluster = await MixedCluster.start(["braft", "braft", "braft"], {
    electionTimeoutMs: 2000,
    snapshotIntervalS: 3600,
    braftFlags: ["--raft_max_segment_size=1024"],
  });
  try {
    await writeThroughLeader(cluster, 40);
    const node = cluster.nodes[0]!;
    await cluster.braftCli("snapshot", [`--peer=${node.peer}`]);
    await writeThroughLeader(cluster, 10);
    await cluster.converged(51);
    await Promise.all(cluster.nodes.map((n) => cluster.kill(n)));
    await rm(OUT, { recursive: true, force: true });
    await mkdir(OUT, { recursive: true });
    await cp(join(node.dir, "data"), OUT, { recursive: true });
    const listing = await readdir(OUT, { recursive: true });
    const info = {
      peer: node.peer,
      conf: cluster.conf,
      writes: 50,
      snapshotAfterWrites: 40,
      files: listing.sort(),
    };
    await writeFile(join(OUT, "capture.json"), JSON.stringify(info, null, 2) + "\n");
    console.log(JSON.stringify(info, null, 2));
  } finally {
    await cluster.stopAll();
  }
}

await main();
