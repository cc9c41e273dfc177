/**
 * CPU time and memory of processes, and the CPU the whole machine used, from /proc (Linux): the
 * per-server figures of the benchmarks and the "rest of the machine" a busy window is spotted by.
 * Every reader answers 0 when /proc is unavailable; the parsers are pure and tested alone.
 */
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc's CPU times (100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds of a `/proc/<pid>/stat` line. */
export function parsePidStatCpuSeconds(stat: string): number {
  // Fields after the command name (which may contain spaces) start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/**
 * Busy CPU seconds of all cores together, from the `cpu` line of `/proc/stat`: user, nice,
 * system, irq, softirq and steal (guest time is already inside user); idle and iowait are not busy.
 */
export function parseMachineBusySeconds(procStat: string): number {
  const line = procStat.split("\n").find((l) => l.startsWith("cpu "));
  if (line === undefined) return 0;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, t) => sum + (t ?? 0), 0);
  return busy / TICKS_PER_SECOND;
}

/** `VmRSS` of a `/proc/<pid>/status` text, in MiB (0 when absent). */
export function parseRssMiB(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match === null ? 0 : Number(match[1]) / 1024;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, "latin1");
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds `pid` has used so far; 0 when /proc is unavailable. */
export function cpuSecondsOf(pid: number): number {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat === undefined ? 0 : parsePidStatCpuSeconds(stat);
}

/** Resident memory of `pid` now, in MiB; 0 when /proc is unavailable or the process is gone. */
export function rssMiBOf(pid: number): number {
  const status = readOr(`/proc/${pid}/status`);
  return status === undefined ? 0 : parseRssMiB(status);
}

/** Busy CPU seconds of the whole machine since boot (all cores summed); 0 without /proc. */
export function machineBusySeconds(): number {
  const stat = readOr("/proc/stat");
  return stat === undefined ? 0 : parseMachineBusySeconds(stat);
}
