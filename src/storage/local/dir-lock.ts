/**
 * An exclusive lock on a storage directory for the lifetime of the storage, so two nodes never
 * write one directory (they corrupt each other: renames failing with ENOENT, votes overwritten).
 *
 * Node 20 has no flock(2), so the lock is a file, `tsraft_lock`, naming its holder (see
 * process-identity.ts), with these rules:
 * - It is created atomically with its full content: the holder writes a candidate file and
 *   hard-links it to `tsraft_lock`, which fails with EEXIST when the lock exists (O_EXCL's
 *   guarantee, without a window where the file exists but is empty).
 * - A lock whose holder is dead (checked by PID, start time and boot id) is stale and is taken
 *   over, so kill -9 never leaves a directory locked. A take-over runs under a second exclusive
 *   file, `tsraft_lock_takeover`: only its holder may delete a stale lock, so two processes that
 *   find the same stale lock cannot both take it.
 * - Inside one process a table of held directories (keyed by device and inode, so two paths to
 *   one directory collide) refuses a second node at once; the storages of one node share an owner
 *   object and may share a directory.
 * - Released on close; on a normal process exit the files of locks still held are removed too.
 */
import { constants as fsConstants, statSync, unlinkSync } from "node:fs";
import { copyFile, link, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import { ioError, isNotFound } from "./fs-util.js";
import {
  holderLiveness,
  selfIdentity,
  type HolderLiveness,
  type ProcessIdentity,
} from "./process-identity.js";

/** The lock file in each locked directory (braft ignores it: see docs/storage.md). */
export const LOCK_FILE = "tsraft_lock";
const TAKEOVER_FILE = "tsraft_lock_takeover";
/** Lost races on the lock before giving up (each needs another process to take or drop it). */
const ATTEMPTS_MAX = 8;
/** How long to wait for a live process to finish its take-over: a few file operations. */
const TAKEOVER_WAIT_MS = 2000;
const TAKEOVER_POLL_MS = 5;
/**
 * A lock file that does not parse is younger than this: a holder still writing it (only on file
 * systems without hard links, where the file is created first and written after).
 */
const PARTIAL_GRACE_MS = 5000;

/** Who opens a storage; storages opened with the same owner object may share a directory. */
export interface StorageOwner {
  readonly group?: string | undefined;
  readonly peer?: string | undefined;
}

/** What the lock file records. */
export interface LockHolder extends ProcessIdentity {
  readonly group?: string | undefined;
  readonly peer?: string | undefined;
  /** "log", "raft meta" or "snapshot". */
  readonly kind: string;
  /** ISO time the lock was taken. */
  readonly since: string;
}

/**
 * A directory this process holds. It keeps what describes the holder (this process, `owner`,
 * `kind`, `since`), not the holder record itself: one entry per storage of every group, so with
 * thousands of idle groups a record each was a kilobyte per group (docs/quiescence.md, "Cost").
 */
interface HeldDirectory {
  readonly owner: StorageOwner;
  readonly kind: string;
  readonly since: string;
  readonly lockPath: string;
  /** Settles when the lock file is in place; resolves with its inode. */
  readonly ready: Promise<number>;
  ino: number;
  refs: number;
}

const held = new Map<string, HeldDirectory>();
let candidateSeq = 0;
let exitHookInstalled = false;

/** A held lock on one directory. {@link release} is idempotent. */
export class DirectoryLock {
  private released = false;

  private constructor(
    private readonly key: string,
    private readonly entry: HeldDirectory,
  ) {}

  /**
   * Locks `dir` (which must exist) for `owner`. Rejects with EBUSY naming the directory and the
   * holder when another node, in this process or another, holds it.
   */
  static async acquire(dir: string, kind: string, owner: StorageOwner): Promise<DirectoryLock> {
    const key = await directoryKey(dir);
    const existing = held.get(key);
    if (existing !== undefined) {
      if (existing.owner !== owner) throw inProcessBusy(dir, holderOf(existing));
      existing.refs++;
      const lock = new DirectoryLock(key, existing);
      await existing.ready.catch(async (error: unknown) => {
        await lock.release();
        throw error;
      });
      return lock;
    }
    const since = now();
    const lockPath = join(dir, LOCK_FILE);
    const ready = lockFile(dir, holderOf({ owner, kind, since }));
    const entry: HeldDirectory = { owner, kind, since, lockPath, ready, ino: 0, refs: 1 };
    held.set(key, entry);
    try {
      entry.ino = await ready;
    } catch (error) {
      held.delete(key);
      throw error;
    }
    installExitHook();
    return new DirectoryLock(key, entry);
  }

  /** Drops this reference; the last one removes the lock file (if it is still this lock's). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (--this.entry.refs > 0) return;
    if (held.get(this.key) === this.entry) held.delete(this.key);
    const ino = await this.entry.ready.catch(() => undefined);
    if (ino !== undefined && (await inodeOf(this.entry.lockPath)) === ino) {
      await rm(this.entry.lockPath, { force: true }).catch(() => undefined);
    }
  }
}

/** The record of a lock this process holds (or takes), as its lock file states it. */
function holderOf(held: Pick<HeldDirectory, "owner" | "kind" | "since">): LockHolder {
  return {
    ...selfIdentity(),
    group: held.owner.group,
    peer: held.owner.peer,
    kind: held.kind,
    since: held.since,
  };
}

/** Takes the lock file of `dir` for `holder`; resolves with the lock file's inode. */
async function lockFile(dir: string, holder: LockHolder): Promise<number> {
  const lockPath = join(dir, LOCK_FILE);
  const candidate = join(dir, `${LOCK_FILE}.${holder.pid}.${holder.nonce}.${candidateSeq++}.new`);
  try {
    await writeFile(candidate, `${JSON.stringify(holder)}\n`, { flag: "wx" });
    for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
      if (await publish(candidate, lockPath)) return (await inodeOf(lockPath)) ?? 0;
      const current = await readLockFile(lockPath);
      if (current === undefined) continue; // released meanwhile: try again
      const liveness = livenessOf(current);
      if (liveness !== "dead") throw lockedError(dir, lockPath, current.holder, liveness);
      await takeOver(dir, candidate, lockPath, current.ino);
    }
    throw new RaftError("EBUSY", `could not lock storage directory ${dir}: its lock kept changing hands`);
  } catch (error) {
    throw RaftError.is(error) ? error : ioError("lock storage directory", dir, error);
  } finally {
    await rm(candidate, { force: true }).catch(() => undefined);
  }
}

/** Creates `target` as a copy of `candidate` unless it exists; false when it exists. */
async function publish(candidate: string, target: string): Promise<boolean> {
  try {
    await link(candidate, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "ENOSYS") throw err;
  }
  // No hard links on this file system: exclusive creation, then the content (see PARTIAL_GRACE_MS).
  try {
    await copyFile(candidate, target, fsConstants.COPYFILE_EXCL);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/**
 * Removes the stale lock (inode `staleIno`) while holding the take-over file, so that of two
 * processes finding the same stale lock only one deletes it; the other then finds the new lock.
 */
async function takeOver(dir: string, candidate: string, lockPath: string, staleIno: number): Promise<void> {
  const mutex = join(dir, TAKEOVER_FILE);
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  while (!(await publish(candidate, mutex))) {
    const current = await readLockFile(mutex);
    if (current === undefined) continue;
    if (livenessOf(current) === "dead") {
      await removeIfSame(mutex, current.ino); // its taker died half-way
      continue;
    }
    if (Date.now() > deadline) {
      throw new RaftError("EBUSY", `another process is taking over the stale lock of ${dir}; try again`);
    }
    await new Promise((resolve) => setTimeout(resolve, TAKEOVER_POLL_MS));
  }
  try {
    if ((await inodeOf(lockPath)) === staleIno) await rm(lockPath, { force: true });
  } finally {
    await rm(mutex, { force: true });
  }
}

/**
 * Deletes `path` only if it is still the file with inode `ino`: it is renamed aside first and put
 * back when it turns out to be another file (one created since it was read).
 */
async function removeIfSame(path: string, ino: number): Promise<void> {
  const aside = `${path}.${selfIdentity().nonce}.${candidateSeq++}.stale`;
  try {
    await rename(path, aside);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  if ((await inodeOf(aside)) !== ino) await link(aside, path).catch(() => undefined);
  await rm(aside, { force: true });
}

interface LockFileContent {
  /** Undefined when the content does not parse. */
  readonly holder: LockHolder | undefined;
  readonly ino: number;
  readonly ageMs: number;
}

/** The lock file's holder and inode (read through one descriptor), or undefined when absent. */
async function readLockFile(path: string): Promise<LockFileContent | undefined> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    const info = await fh.stat();
    const text = await fh.readFile("utf8");
    return { holder: parseHolder(text), ino: info.ino, ageMs: Date.now() - info.mtimeMs };
  } finally {
    await fh.close();
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    const valid =
      Number.isSafeInteger(value.pid) &&
      (value.pid as number) > 0 &&
      typeof value.hostname === "string" &&
      typeof value.nonce === "string" &&
      typeof value.kind === "string";
    return valid ? (value as LockHolder) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A lock naming this process is a leftover (this process's table, checked first, does not hold
 * the directory), so it counts as dead; an unreadable one is dead unless it is being written.
 */
function livenessOf(content: LockFileContent): HolderLiveness {
  if (content.holder === undefined) return content.ageMs < PARTIAL_GRACE_MS ? "alive" : "dead";
  const liveness = holderLiveness(content.holder);
  return liveness === "self" ? "dead" : liveness;
}

function describeHolder(holder: LockHolder | undefined): string {
  if (holder === undefined) return "a process that is still writing the lock file";
  const node =
    holder.group === undefined
      ? `${holder.kind} storage opened outside a node (bootstrap or a tool)`
      : `group "${holder.group}", peer ${holder.peer ?? "?"}, ${holder.kind} storage`;
  return `pid ${holder.pid} on host ${holder.hostname} (${node}, since ${holder.since})`;
}

function lockedError(
  dir: string,
  lockPath: string,
  holder: LockHolder | undefined,
  liveness: HolderLiveness,
): RaftError {
  const advice =
    liveness === "unverifiable"
      ? `This host cannot check a process of another host (or container). If that process is gone, ` +
        `delete ${lockPath} and start again; if it runs, stop it first.`
      : "Stop that process first, or give this node its own logUri, raftMetaUri and snapshotUri.";
  return new RaftError(
    "EBUSY",
    `storage directory ${dir} is locked by ${describeHolder(holder)}: two nodes writing one ` +
      `directory corrupt each other's log, votes and snapshots. ${advice}`,
  );
}

function inProcessBusy(dir: string, holder: LockHolder): RaftError {
  return new RaftError(
    "EBUSY",
    `storage directory ${dir} is already open in this process: ${describeHolder(holder)}. Two ` +
      "nodes writing one directory corrupt each other's log, votes and snapshots. Give each node " +
      "its own logUri, raftMetaUri and snapshotUri, or shut the other node down first.",
  );
}

/** Device and inode: two paths to one directory (symlinks, bind mounts) get one key. */
async function directoryKey(dir: string): Promise<string> {
  try {
    const info = await stat(dir);
    return `${info.dev}:${info.ino}`;
  } catch (err) {
    throw ioError("stat", dir, err);
  }
}

async function inodeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

function now(): string {
  return new Date().toISOString();
}

/** On a normal exit (also process.exit()), removes the lock files this process still holds. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const entry of held.values()) {
      try {
        if (entry.ino !== 0 && statSync(entry.lockPath).ino === entry.ino) unlinkSync(entry.lockPath);
      } catch {
        // Best effort: a leftover lock of a dead process is taken over at the next start.
      }
    }
  });
}
