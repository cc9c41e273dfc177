/**
 * The group and peer a storage directory belongs to, recorded in `tsraft_owner` the first time a
 * node opens it and checked at every later open. Opening another group's log would mix two
 * histories; opening another peer's would let one copy of the data count as two voters.
 */
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { StorageOwner } from "./dir-lock.js";
import { fsyncDir, ioError, isNotFound } from "./fs-util.js";

/** The owner record in each directory a node opened (braft ignores it: see docs/storage.md). */
export const OWNER_FILE = "tsraft_owner";

/** What the owner record holds. */
export interface OwnerRecord {
  readonly group: string;
  readonly peer: string;
}

/**
 * Checks that `dir` belongs to `owner`'s group and peer, recording them when the directory has
 * no owner yet. An owner without a group (bootstrap, tools) is neither checked nor recorded.
 */
export async function checkOwner(
  dir: string,
  kind: string,
  owner: StorageOwner,
  sync: boolean,
): Promise<void> {
  if (owner.group === undefined) return;
  const mine: OwnerRecord = { group: owner.group, peer: owner.peer ?? "" };
  const path = join(dir, OWNER_FILE);
  const found = await readOwner(path);
  if (found === undefined) return writeOwner(path, mine, sync);
  if (found.group !== mine.group) {
    throw new RaftError(
      "EINVAL",
      `${kind} storage ${dir} holds the data of group "${found.group}" (peer ${found.peer}), not of ` +
        `group "${mine.group}": refusing to open another group's data, which would mix two ` +
        "histories. Check this node's logUri, raftMetaUri and snapshotUri.",
    );
  }
  if (found.peer !== mine.peer) {
    throw new RaftError(
      "EINVAL",
      `${kind} storage ${dir} holds the data of peer ${found.peer} of group "${found.group}", not of ` +
        `peer ${mine.peer}: one copy of the data would count as two voters. Check the storage URIs; ` +
        `if this node really moved to a new address, remove ${found.peer} from the group first, then ` +
        `either start ${mine.peer} on empty storage and add it, or delete ${path}.`,
    );
  }
}

async function readOwner(path: string): Promise<OwnerRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw ioError("read", path, err);
  }
  try {
    const value = JSON.parse(text) as Partial<OwnerRecord>;
    if (typeof value.group === "string" && typeof value.peer === "string") {
      return { group: value.group, peer: value.peer };
    }
  } catch {
    // reported below
  }
  throw new RaftError("EIO", `Corrupted file ${path}: expected {"group": ..., "peer": ...}`);
}

/** Written through a temporary file and a rename, so a crash leaves no half record. */
async function writeOwner(path: string, record: OwnerRecord, sync: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(`${JSON.stringify(record)}\n`);
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    if (sync) await fsyncDir(join(path, ".."));
  } catch (err) {
    throw ioError("save", path, err);
  }
}
