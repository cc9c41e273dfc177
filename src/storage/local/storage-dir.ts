/**
 * Opening a `local://` storage directory: create it, lock it for this storage's lifetime and check
 * whose data it holds. Every local storage does this first, before reading or repairing anything.
 */
import { mkdir } from "node:fs/promises";
import { DirectoryLock, type StorageOwner } from "./dir-lock.js";
import { ioError } from "./fs-util.js";
import type { ResolvedLocalOptions } from "./options.js";
import { checkOwner } from "./storage-owner.js";

/** A directory opened by one storage; release it when the storage closes. */
export interface StorageDirectory {
  release(): Promise<void>;
}

const UNLOCKED: StorageDirectory = { release: () => Promise.resolve() };

/**
 * Creates `dir` if needed, locks it (EBUSY naming the holder when another node has it) and checks
 * its owner record (EINVAL when it holds another group's or peer's data). The lock is released
 * again when the check fails.
 */
export async function openStorageDirectory(
  dir: string,
  kind: string,
  opts: ResolvedLocalOptions,
): Promise<StorageDirectory> {
  try {
    await mkdir(dir, { recursive: opts.createParentDirectories });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError("create directory", dir, err);
  }
  if (!opts.lockDirectory) return UNLOCKED;
  const owner: StorageOwner = opts.owner ?? {};
  const lock = await DirectoryLock.acquire(dir, kind, owner);
  try {
    await checkOwner(dir, kind, owner, opts.syncMeta);
  } catch (error) {
    await lock.release();
    throw error;
  }
  return lock;
}
