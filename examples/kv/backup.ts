/**
 * Backup and restore for the kv example. A backup is a snapshot: the node writes one, and its
 * `snapshot_<index>` directory (braft's layout, docs/storage.md) is copied away. A restore
 * bootstraps the storage of a new cluster from it: `bootstrap()` writes term 1, the state
 * machine's snapshot at the backup's index and the new configuration, as braft's bootstrap does.
 */
import { cp, readdir } from "node:fs/promises";
import { join } from "node:path";
import { bootstrap, type RaftNode } from "../../src/index.js";
import { readSnapshotFile } from "./kv-snapshot.js";
import { KvStateMachine, SNAPSHOT_FILE } from "./kv-state-machine.js";

/** braft names a snapshot directory after its last included index, in 20 digits. */
const SNAPSHOT_DIR = /^snapshot_(\d{20})$/;

/** The newest `snapshot_<index>` directory under a node's snapshot storage directory. */
export async function newestSnapshot(
  snapshotDir: string,
): Promise<{ path: string; index: number } | undefined> {
  const indexes = (await readdir(snapshotDir))
    .map((name) => SNAPSHOT_DIR.exec(name)?.[1])
    .filter((digits) => digits !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  const index = indexes[0];
  if (index === undefined) return undefined;
  return { path: join(snapshotDir, `snapshot_${String(index).padStart(20, "0")}`), index };
}

// #region backup
/**
 * Takes a snapshot on `node` and copies it to `destination`; resolves with its index. The copy
 * reads a finished snapshot: the storage only deletes a snapshot after a newer one is complete,
 * so a copy that races with the next snapshot fails (ENOENT) and is simply taken again.
 */
export async function backup(node: RaftNode, snapshotDir: string, destination: string): Promise<number> {
  await node.snapshot();
  const newest = await newestSnapshot(snapshotDir);
  if (newest === undefined) throw new Error(`no snapshot under ${snapshotDir}`);
  await cp(newest.path, destination, { recursive: true });
  return newest.index;
}
// #endregion backup

// #region restore
/**
 * Prepares the storage of one node of a new cluster from a backup. Run it for every node of the
 * new configuration (each with its own directory), then start them with `init` and no initialConf.
 */
export async function restore(
  backupDir: string,
  index: number,
  peers: string,
  nodeDir: string,
): Promise<void> {
  const fsm = new KvStateMachine();
  for await (const record of readSnapshotFile(join(backupDir, SNAPSHOT_FILE))) {
    if ("k" in record) fsm.data.set(record.k, record.v);
    else fsm.requests.set(record.r, { previous: record.p, replayed: false });
  }
  await bootstrap({
    groupConf: peers,
    lastLogIndex: index, // the state stands for the log up to here; new entries follow it
    fsm, // its onSnapshotSave writes the bootstrap snapshot
    logUri: `local://${join(nodeDir, "log")}`,
    raftMetaUri: `local://${join(nodeDir, "raft_meta")}`,
    snapshotUri: `local://${join(nodeDir, "snapshot")}`,
  });
}
// #endregion restore
