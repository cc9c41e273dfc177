/** Operator-facing node operations that only read or retune state (kept out of raft-node.ts). */
import { RaftError } from "../core/errors.js";
import { EntryType } from "../core/types.js";
import type { PreparedNode } from "./node-init.js";

/** braft's UserLog: a committed DATA entry. */
export interface UserLog {
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * braft's read_committed_user_log: the first DATA entry at or after `index`, skipping
 * configuration entries. EINVAL past the committed index, ELOGDELETED when compacted away,
 * ENOMOREUSERLOG when only non-data entries remain up to the committed index.
 */
export function readCommittedUserLog(prepared: PreparedNode, index: number): UserLog {
  const { core, logManager } = prepared;
  if (!Number.isSafeInteger(index) || index <= 0) throw new RaftError("EINVAL", `bad log index ${index}`);
  if (index > core.commitIndex)
    throw new RaftError("EINVAL", `index ${index} is past the committed ${core.commitIndex}`);
  if (index < logManager.firstIndex())
    throw new RaftError("ELOGDELETED", `entry ${index} was compacted into a snapshot`);
  for (let i = index; i <= core.commitIndex; i++) {
    const entry = logManager.entry(i);
    if (entry === undefined) throw new RaftError("ELOGDELETED", `entry ${i} is not in the log`);
    if (entry.type === EntryType.DATA) return { index: entry.index, term: entry.term, data: entry.data };
  }
  throw new RaftError("ENOMOREUSERLOG", `no user entry from ${index} to ${core.commitIndex}`);
}

/** The drift allowance of braft's two-argument reset_election_timeout_ms, checked. */
export function checkedDriftMs(maxClockDriftMs: number | undefined): number | undefined {
  if (maxClockDriftMs === undefined) return undefined;
  if (!Number.isInteger(maxClockDriftMs) || maxClockDriftMs < 0) {
    throw new RaftError("EINVAL", `max clock drift must be a non-negative integer, got ${maxClockDriftMs}`);
  }
  return maxClockDriftMs;
}
