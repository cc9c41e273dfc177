/**
 * What the `/flags` page knows about each of braft's flags: its description and whether it may
 * be changed at run time. The values each accepts are the node's own rules
 * (src/node/validate-options.ts), so the page accepts exactly what `init()` accepts. A change sets
 * the process-wide `flags`; nodes read those once, at init, so it reaches nodes initialized
 * afterwards, never a running one.
 */
import { RaftError } from "../core/errors.js";
import { defaultFlags, type RaftFlags } from "../node/flags.js";
import { checkFlag, flagRules } from "../node/validate-options.js";

/**
 * Which nodes a change of a flag reaches: `later` = nodes initialized after it, `none` = no node
 * (tsraft does not read the flag), `fixed` = it cannot be changed at run time. No flag reaches a
 * running node: nodes copy the flags once, at init.
 */
export type FlagScope = "later" | "none" | "fixed";

export interface FlagSpec {
  readonly description: string;
  /** May be set through `POST /flags/<name>?setvalue=`. */
  readonly live: boolean;
  readonly appliesTo: FlagScope;
  /** What a change affects (live flags), or why it cannot be changed at run time. */
  readonly note: string;
}

const NEXT_NODES = "nodes initialized after the change";

export const flagSpecs: Readonly<Record<keyof RaftFlags, FlagSpec>> = {
  raft_sync: {
    description: "fsync every log append (see raft_sync_policy)",
    live: false,
    appliesTo: "fixed",
    note: "turning fsync off can lose acknowledged writes on power loss; set it in code before nodes start",
  },
  raft_sync_policy: {
    description:
      "when raft_sync is on: 0 fsyncs every append, 1 once raft_sync_per_bytes are unsynced (or a configuration entry)",
    live: false,
    appliesTo: "fixed",
    note: "policy 1 can lose acknowledged writes on power loss; set it in code before nodes start",
  },
  raft_sync_per_bytes: {
    description: "unsynced log bytes that trigger an fsync under raft_sync_policy 1",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_sync_meta: {
    description: "fsync log_meta, raft_meta and snapshot meta even when raft_sync is off",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_sync_segments: {
    description: "fsync a log segment when it is closed",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_create_parent_directories: {
    description: "create missing parent directories of local storage paths",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_use_fsync_rather_than_fdatasync: {
    description: "fsync rather than fdatasync",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_recover_log_from_corrupt: {
    description: "at open, cut off a last segment's tail that fails its checksum (else refuse to open)",
    live: true,
    appliesTo: "later",
    note: `storages of ${NEXT_NODES}`,
  },
  raft_meta_write_batch: {
    description: "merged raft meta writes (local-merged://) batched into one write (braft's default: 128)",
    live: true,
    appliesTo: "later",
    note: "local-merged:// meta files opened after the change",
  },
  raft_max_segment_size: {
    description: "roll a log segment over past this many bytes",
    live: true,
    appliesTo: "later",
    note: `log storages of ${NEXT_NODES}`,
  },
  raft_max_entries_size: {
    description: "entries per AppendEntries request",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_max_body_size: {
    description: "data bytes per AppendEntries request (one entry is always sent)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_max_byte_count_per_rpc: {
    description: "bytes per snapshot file chunk (get_file)",
    live: true,
    appliesTo: "none",
    note: `snapshot copies of ${NEXT_NODES} (over RaftServerOptions.snapshotTransfer)`,
  },
  raft_apply_batch: {
    description: "apply() tasks proposed together at most (braft's apply queue batch)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_leader_batch: {
    description: "proposal batches merged into one log write on the leader",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_max_append_buffer_size: {
    description: "a merged log write also ends once its entries hold this many data bytes",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_fsm_caller_commit_batch: {
    description: "committed entries handed to one onApply call at most",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_rpc_channel_connect_timeout_ms: {
    description: "connect timeout of the channels a RaftServer dials",
    live: true,
    appliesTo: "later",
    note: "channels of RaftServers started after the change (without channel.connectTimeoutMs)",
  },
  raft_election_heartbeat_factor: {
    description: "heartbeat interval = election timeout / this factor (at least 10 ms)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_enable_leader_lease: {
    description: "leader lease reads (safe only when every peer enables it)",
    live: false,
    appliesTo: "fixed",
    note: "every peer of a group must agree on it; set it in code before nodes start",
  },
  raft_max_election_delay_ms: {
    description: "upper bound of the random part of election timeouts",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_step_down_when_vote_timedout: {
    description: "a candidate whose vote timed out goes back to pre-vote",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_max_parallel_append_entries_rpc_num: {
    description: "AppendEntries in flight per follower (braft: 1, tsraft: 8)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_do_snapshot_min_index_gap: {
    description: "skip a snapshot when fewer entries were applied since the last one",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_max_install_snapshot_tasks_num: {
    description: "snapshot installs running at once on this server's followers",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_retry_replicate_interval_ms: {
    description: "pause before sending again to a follower that answered EBUSY",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  raft_enable_witness_to_leader: {
    description: "witnesses get entry data and may lead briefly, handing leadership to a full replica",
    live: true,
    appliesTo: "later",
    note: `${NEXT_NODES}; set it alike on every node of a group before it starts (docs/witness.md)`,
  },
  tsraft_max_pending_applies: {
    description: "applies waiting to commit before apply() fails with EBUSY (beyond braft)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
  tsraft_quiesce_after_heartbeats: {
    description:
      "heartbeat intervals an idle leader waits before quiescing its group (at most one after its election, or after a write woke it); 0: never (beyond braft)",
    live: true,
    appliesTo: "later",
    note: NEXT_NODES,
  },
};

/** Flag names in a stable order (braft's, then tsraft's own). */
export const flagNames = Object.keys(defaultFlags) as (keyof RaftFlags)[];

export function isFlagName(name: string): name is keyof RaftFlags {
  return Object.hasOwn(flagSpecs, name);
}

/** The values flag `name` accepts, in words (from the node's rules). */
export function allowedValues(name: keyof RaftFlags): string {
  return flagRules[name].allowed;
}

/**
 * Parses `text` as a value of flag `name`: booleans as gflags spell them (true/false, 1/0,
 * yes/no), numbers as decimal integers, then checks the node's bound for it. EINVAL with one
 * line naming the flag, the value and what is allowed otherwise.
 */
export function parseFlagValue(name: keyof RaftFlags, text: string): boolean | number {
  const value = text.trim();
  let parsed: boolean | number;
  if (typeof defaultFlags[name] === "boolean") {
    const lower = value.toLowerCase();
    if (["true", "1", "yes", "y", "t"].includes(lower)) parsed = true;
    else if (["false", "0", "no", "n", "f"].includes(lower)) parsed = false;
    else throw new RaftError("EINVAL", `flag ${name} is "${text}"; allowed: ${allowedValues(name)}`);
  } else {
    if (!/^[+-]?\d+$/.test(value))
      throw new RaftError("EINVAL", `flag ${name} is "${text}"; allowed: ${allowedValues(name)}`);
    parsed = Number(value);
  }
  checkFlag(name, parsed);
  return parsed;
}
