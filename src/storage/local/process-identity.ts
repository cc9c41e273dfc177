/**
 * Who holds a storage lock, and whether that process still runs. A PID alone is not enough: PIDs
 * are reused (in a container the node is often PID 1 on every start), so a holder is identified by
 * its PID, its start time (from /proc, in clock ticks after boot), the machine's boot id and host
 * name, and a random nonce of the process that tells this process apart from an earlier one that
 * had the same PID.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/** The process fields of a lock holder, as written in the lock file. */
export interface ProcessIdentity {
  readonly pid: number;
  /** /proc/<pid>/stat field 22 (start time after boot); absent where /proc is not available. */
  readonly startTime?: string | undefined;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  readonly bootId?: string | undefined;
  readonly hostname: string;
  /** Random per process: the same PID with another nonce is an earlier process. */
  readonly nonce: string;
}

/** What the liveness check concludes about a holder. */
export type HolderLiveness =
  /** This very process. */
  | "self"
  /** Another process that runs now. */
  | "alive"
  /** Gone: its lock is stale and may be taken over. */
  | "dead"
  /** On another host (or another UTS namespace): this host cannot tell. */
  | "unverifiable";

let self: ProcessIdentity | undefined;

/** This process's identity (computed once). */
export function selfIdentity(): ProcessIdentity {
  self ??= {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    bootId: readTrimmed("/proc/sys/kernel/random/boot_id"),
    hostname: hostname(),
    nonce: randomBytes(8).toString("hex"),
  };
  return self;
}

/** The start time of `pid` from /proc/<pid>/stat, or undefined (no /proc, no such process). */
export function processStartTime(pid: number): string | undefined {
  const stat = readTrimmed(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces or ")"; fields after the
  // last ")" start at field 3, so the start time (field 22) is the 20th of them.
  return stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .at(22 - 3);
}

/** Judges whether `holder` still runs, as seen from this process. */
export function holderLiveness(
  holder: ProcessIdentity,
  me: ProcessIdentity = selfIdentity(),
): HolderLiveness {
  if (holder.nonce === me.nonce) return "self";
  if (holder.hostname !== me.hostname) return "unverifiable";
  if (holder.bootId !== undefined && me.bootId !== undefined && holder.bootId !== me.bootId) return "dead";
  if (holder.pid === me.pid) return "dead";
  if (!pidExists(holder.pid)) return "dead";
  if (holder.startTime === undefined) return "alive";
  const startTime = processStartTime(holder.pid);
  return startTime === undefined || startTime === holder.startTime ? "alive" : "dead";
}

/** Signal 0 checks existence: ESRCH means gone, EPERM means it runs under another user. */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readTrimmed(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}
