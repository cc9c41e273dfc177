/**
 * DirectoryLock: who may take a storage directory. A live holder (in this process or another)
 * keeps it; a dead one (gone, or its PID reused by another process, or from before a reboot)
 * loses it; a holder on another host cannot be checked and keeps it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { DirectoryLock, LOCK_FILE } from "../../src/storage/local/dir-lock.js";
import { processStartTime, selfIdentity } from "../../src/storage/local/process-identity.js";
import { rejectsWith, removeDir, tempDir } from "./helpers.js";

/** Above the largest pid_max Linux allows (2^22): no process ever has it. */
const NEVER_A_PID = 2 ** 22 + 1;

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

async function freshDir(): Promise<string> {
  const dir = await tempDir("tsraft-dirlock-");
  dirs.push(dir);
  return dir;
}

/** Writes a lock file as another process would have. */
async function plantLock(dir: string, fields: Record<string, unknown>): Promise<void> {
  const holder = {
    pid: NEVER_A_PID,
    hostname: hostname(),
    bootId: selfIdentity().bootId,
    nonce: "another-process",
    group: "Other",
    peer: "127.0.0.1:9999:0",
    kind: "log",
    since: "2026-01-01T00:00:00.000Z",
    ...fields,
  };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(holder));
}

async function holderPid(dir: string): Promise<number> {
  return (JSON.parse(await readFile(join(dir, LOCK_FILE), "utf8")) as { pid: number }).pid;
}

test("DirectoryLock: a second owner in this process is refused with EBUSY naming the directory and the holder", async () => {
  const dir = await freshDir();
  const lock = await DirectoryLock.acquire(dir, "log", { group: "G", peer: "127.0.0.1:1:0" });
  const err = await rejectsWith(
    DirectoryLock.acquire(dir, "log", { group: "H", peer: "127.0.0.1:2:0" }),
    "EBUSY",
  );
  assert.match(
    err.message,
    new RegExp(`${dir}.*pid ${process.pid} .*group "G", peer 127\\.0\\.0\\.1:1:0`, "s"),
  );
  await lock.release();
});

test("DirectoryLock: the storages of one owner share a directory; the file goes with the last release", async () => {
  const dir = await freshDir();
  const owner = { group: "G", peer: "127.0.0.1:1:0" };
  const [a, b] = await Promise.all([
    DirectoryLock.acquire(dir, "log", owner),
    DirectoryLock.acquire(dir, "raft meta", owner),
  ]);
  await a.release();
  await a.release(); // idempotent: does not drop b's reference
  assert.ok(existsSync(join(dir, LOCK_FILE)), "still held by the other storage");
  await b.release();
  assert.ok(!existsSync(join(dir, LOCK_FILE)), "released");
  await (await DirectoryLock.acquire(dir, "log", {})).release();
});

test("DirectoryLock: two paths to one directory are one lock", async () => {
  const parent = await freshDir();
  const dir = join(parent, "data");
  await mkdir(dir);
  await symlink(dir, join(parent, "alias"));
  const lock = await DirectoryLock.acquire(dir, "log", {});
  await rejectsWith(DirectoryLock.acquire(join(parent, "alias"), "log", {}), "EBUSY");
  await lock.release();
});

test("DirectoryLock: the lock of a process that is gone is taken over", async () => {
  const dir = await freshDir();
  await plantLock(dir, { pid: NEVER_A_PID });
  const lock = await DirectoryLock.acquire(dir, "log", {});
  assert.equal(await holderPid(dir), process.pid);
  await lock.release();
});

test("DirectoryLock: a PID now used by another process (other start time) is a dead holder", async () => {
  const dir = await freshDir();
  await plantLock(dir, { pid: process.ppid, startTime: "1" });
  const lock = await DirectoryLock.acquire(dir, "log", {});
  assert.equal(await holderPid(dir), process.pid);
  await lock.release();
});

test("DirectoryLock: this process's PID with another nonce is an earlier process (PID 1 in a container)", async () => {
  const dir = await freshDir();
  await plantLock(dir, { pid: process.pid, startTime: selfIdentity().startTime });
  await (await DirectoryLock.acquire(dir, "log", {})).release();
});

test("DirectoryLock: a holder from before a reboot is dead", async () => {
  const dir = await freshDir();
  await plantLock(dir, {
    pid: process.ppid,
    startTime: processStartTime(process.ppid),
    bootId: "before-reboot",
  });
  await (await DirectoryLock.acquire(dir, "log", {})).release();
});

test("DirectoryLock: a live holder in another process keeps the lock", async () => {
  const dir = await freshDir();
  await plantLock(dir, { pid: process.ppid, startTime: processStartTime(process.ppid) });
  const err = await rejectsWith(DirectoryLock.acquire(dir, "log", {}), "EBUSY");
  assert.match(err.message, new RegExp(`pid ${process.ppid} .*group "Other", peer 127\\.0\\.0\\.1:9999:0`));
  assert.match(err.message, /Stop that process first/);
  assert.equal(await holderPid(dir), process.ppid, "the holder's file is left alone");
});

test("DirectoryLock: a holder on another host cannot be checked and keeps the lock", async () => {
  const dir = await freshDir();
  await plantLock(dir, { hostname: "elsewhere" });
  const err = await rejectsWith(DirectoryLock.acquire(dir, "log", {}), "EBUSY");
  assert.match(err.message, /host elsewhere/);
  assert.ok(err.message.includes(`delete ${join(dir, LOCK_FILE)}`), err.message);
});

test("DirectoryLock: a garbled lock file is being written while young, stale once old", async () => {
  const dir = await freshDir();
  await writeFile(join(dir, LOCK_FILE), "");
  await rejectsWith(DirectoryLock.acquire(dir, "log", {}), "EBUSY");
  const old = new Date(Date.now() - 60_000);
  await utimes(join(dir, LOCK_FILE), old, old);
  await (await DirectoryLock.acquire(dir, "log", {})).release();
});

test("DirectoryLock: a take-over left half-done by a killed process does not block the next one", async () => {
  const dir = await freshDir();
  await plantLock(dir, { pid: NEVER_A_PID });
  await writeFile(
    join(dir, "tsraft_lock_takeover"),
    JSON.stringify({ pid: NEVER_A_PID, hostname: hostname(), nonce: "dead-taker", kind: "log", since: "" }),
  );
  const lock = await DirectoryLock.acquire(dir, "log", {});
  assert.ok(!existsSync(join(dir, "tsraft_lock_takeover")));
  await lock.release();
});
