/**
 * Every bound of every NodeOptions field and every flag, in one place (hashicorp/raft's
 * ValidateConfig). `init()` and the `/flags` page both check through here, so a value one
 * accepts the other accepts too. A refusal is EINVAL naming the option, the value and what is
 * allowed, before anything is opened.
 */
import { RaftError } from "../core/errors.js";
import { FILE_SYSTEM_ADAPTOR_METHODS } from "../storage/fs-adaptor.js";
import { defaultFlags, resolveFlags, type RaftFlags } from "./flags.js";
import type { NodeOptions } from "./options.js";
import { Configuration, type PeerId } from "./peer-id.js";

/** braft's flags and options are int32. */
export const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);
/** The longest delay Node's timers take (about 24.8 days); a longer one fires at once. */
export const TIMER_MS_MAX = 2 ** 31 - 1;
/** Below this the heartbeat interval does not shrink (braft's heartbeat_timeout floor). */
export const HEARTBEAT_MS_MIN = 10;
/**
 * AppendEntries in flight per follower. Beyond a few round trips' worth the pipeline gains
 * nothing, while each one in flight may pin raft_max_body_size bytes per follower.
 */
export const INFLIGHT_APPENDS_MAX = 1024;

/** What one option or flag accepts; `check` answers undefined for a good value. */
export interface Rule {
  /** The allowed values in words, e.g. "an integer from 1 to 1024". */
  readonly allowed: string;
  readonly check: (value: unknown) => boolean;
}

/** An integer in [min, max]; bounds are part of the message a refusal carries. */
export function integer(min: number, max: number, note = ""): Rule & { min: number; max: number } {
  return {
    min,
    max,
    allowed: `an integer from ${min} to ${max}${note}`,
    check: (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max,
  };
}

const BOOLEAN: Rule = { allowed: "true or false", check: (value) => typeof value === "boolean" };

/** An object with these methods (an interface implemented by the caller). */
function implementing(what: string, ...methods: string[]): Rule {
  return {
    allowed: methods.length === 0 ? what : `${what} (with ${methods.join(", ")})`,
    check: (value) =>
      typeof value === "object" &&
      value !== null &&
      methods.every((m) => typeof (value as Record<string, unknown>)[m] === "function"),
  };
}

const STORAGE_URI: Rule = {
  allowed: "a storage URI such as local://./data/log or memory://n1/log",
  check: (value) => typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\/./i.test(value),
};

const CONFIGURATION: Rule = {
  allowed: 'a Configuration, its text ("ip:port:idx,..."), or a list of peer ids',
  check: (value) => {
    try {
      Configuration.from(value as Configuration);
      return true;
    } catch {
      return false;
    }
  },
};

/** The bounds of braft's flags (braft validates most as PositiveInteger). */
export const flagRules: Readonly<Record<keyof RaftFlags, Rule>> = {
  raft_sync: BOOLEAN,
  raft_sync_policy: integer(0, 1, " (0: sync every append, 1: by bytes)"),
  raft_sync_per_bytes: integer(0, INT32_MAX),
  raft_sync_meta: BOOLEAN,
  raft_sync_segments: BOOLEAN,
  raft_create_parent_directories: BOOLEAN,
  raft_use_fsync_rather_than_fdatasync: BOOLEAN,
  raft_recover_log_from_corrupt: BOOLEAN,
  raft_meta_write_batch: integer(1, INT32_MAX),
  raft_max_segment_size: integer(1, INT32_MAX),
  raft_max_entries_size: integer(1, INT32_MAX),
  raft_max_body_size: integer(1, INT32_MAX),
  raft_max_byte_count_per_rpc: integer(1, INT32_MAX),
  raft_apply_batch: integer(1, INT32_MAX),
  raft_leader_batch: integer(1, INT32_MAX),
  // braft has no validator; 0 would still write one job per batch, so 1 is the least that means anything.
  raft_max_append_buffer_size: integer(1, INT32_MAX),
  raft_fsm_caller_commit_batch: integer(1, INT32_MAX),
  raft_rpc_channel_connect_timeout_ms: integer(1, TIMER_MS_MAX),
  // braft: "raft_election_heartbeat_factor flag must be greater than 1"; 1 would heartbeat once
  // per election timeout, and followers would time out between heartbeats.
  raft_election_heartbeat_factor: integer(2, INT32_MAX),
  raft_enable_leader_lease: BOOLEAN,
  raft_max_election_delay_ms: integer(1, TIMER_MS_MAX),
  raft_step_down_when_vote_timedout: BOOLEAN,
  // 0 would never send an append: commits stall silently.
  raft_max_parallel_append_entries_rpc_num: integer(1, INFLIGHT_APPENDS_MAX),
  raft_do_snapshot_min_index_gap: integer(1, INT32_MAX),
  raft_max_install_snapshot_tasks_num: integer(1, INT32_MAX),
  raft_retry_replicate_interval_ms: integer(1, TIMER_MS_MAX),
  raft_enable_witness_to_leader: BOOLEAN,
  tsraft_max_pending_applies: integer(1, INT32_MAX),
  tsraft_quiesce_after_heartbeats: integer(0, INT32_MAX),
};

/** snapshotIntervalS * 1000 must fit a timer. */
const SNAPSHOT_INTERVAL_S_MAX = Math.floor(TIMER_MS_MAX / 1000);

/**
 * The bounds of every NodeOptions field. A Record over every key: a new option does not compile
 * until its bound is written here.
 */
export const optionRules: Readonly<Record<keyof NodeOptions, Rule>> = {
  fsm: implementing("a StateMachine", "onApply"),
  server: implementing("a RaftServer (or another RaftHost)", "registerNode", "unregisterNode"),
  initialConf: CONFIGURATION,
  // Above the heartbeat floor, so heartbeats come more often than followers time out.
  electionTimeoutMs: integer(HEARTBEAT_MS_MIN + 1, TIMER_MS_MAX),
  maxClockDriftMs: integer(0, TIMER_MS_MAX),
  snapshotIntervalS: integer(INT32_MIN, SNAPSHOT_INTERVAL_S_MAX, " (<= 0 turns snapshots off)"),
  catchupMargin: integer(0, INT32_MAX),
  // 0 means an election timeout (braft's default).
  catchupTimeoutMs: integer(0, TIMER_MS_MAX, " (0: one election timeout)"),
  logUri: STORAGE_URI,
  raftMetaUri: STORAGE_URI,
  snapshotUri: STORAGE_URI,
  logStorage: implementing("a LogStorage", "init", "appendEntries"),
  raftMetaStorage: implementing("a RaftMetaStorage", "init"),
  snapshotStorage: implementing("a SnapshotStorage", "init", "open"),
  snapshotFileSystemAdaptor: implementing("a FileSystemAdaptor", ...FILE_SYSTEM_ADAPTOR_METHODS),
  filterBeforeCopyRemote: BOOLEAN,
  snapshotThrottle: implementing("a SnapshotThrottle", "acquire"),
  snapshotLogMarginEntries: integer(0, INT32_MAX),
  disableCli: BOOLEAN,
  witness: BOOLEAN,
  flags: implementing("an object of braft flags, e.g. { raft_sync: false }"),
  env: implementing("an Env", "nowMs", "setTimer", "random"),
  logger: implementing("a Logger", "debug", "info", "warn", "error"),
};

const REQUIRED: ReadonlySet<keyof NodeOptions> = new Set(["fsm", "server"]);

function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

function refusal(name: string, value: unknown, allowed: string): RaftError {
  return new RaftError("EINVAL", `${name} is ${show(value)}; allowed: ${allowed}`, {
    outcome: "refused",
  });
}

/** EINVAL unless `value` is a good value of flag `name` (unknown names included). */
export function checkFlag(name: string, value: unknown, where = "flag"): void {
  const rule = Object.hasOwn(flagRules, name) ? flagRules[name as keyof RaftFlags] : undefined;
  if (rule === undefined) {
    throw new RaftError(
      "EINVAL",
      `${where} ${name} is not a flag; known: ${Object.keys(defaultFlags).join(", ")}`,
      {
        outcome: "refused",
      },
    );
  }
  if (!rule.check(value)) throw refusal(`${where} ${name}`, value, rule.allowed);
}

/**
 * Checks NodeOptions before `init` opens anything: every field's bound, the flags the node will
 * run with (process-wide values merged with NodeOptions.flags), and the bounds that tie fields
 * together. Returns the warnings worth logging (unknown fields: probably a typo).
 */
export function validateNodeOptions(options: NodeOptions): string[] {
  if (typeof options !== "object" || options === null)
    throw new RaftError("EINVAL", "init needs NodeOptions", { outcome: "refused" });
  const fields = options as unknown as Record<string, unknown>;
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(fields)) {
    if (!Object.hasOwn(optionRules, name)) {
      warnings.push(`NodeOptions.${name} is not an option tsraft knows; it is ignored`);
      continue;
    }
    const rule = optionRules[name as keyof NodeOptions];
    if (value !== undefined && !rule.check(value)) throw refusal(`NodeOptions.${name}`, value, rule.allowed);
  }
  for (const name of REQUIRED) {
    if (fields[name] === undefined)
      throw refusal(`NodeOptions.${name}`, undefined, optionRules[name].allowed);
  }
  if (options.logUri === undefined && options.logStorage === undefined)
    throw new RaftError("EINVAL", "NodeOptions needs logUri (or logStorage)", { outcome: "refused" });
  if (options.raftMetaUri === undefined && options.raftMetaStorage === undefined)
    throw new RaftError("EINVAL", "NodeOptions needs raftMetaUri (or raftMetaStorage)", {
      outcome: "refused",
    });
  for (const [name, value] of Object.entries(options.flags ?? {}))
    checkFlag(name, value, "NodeOptions.flags");
  const flags = resolveFlags(options.flags);
  for (const [name, value] of Object.entries(flags)) checkFlag(name, value, "process-wide flag");
  checkTimings(options, flags);
  if (options.witness === true && options.snapshotUri === undefined && options.snapshotStorage === undefined)
    warnings.push("a witness without snapshot storage never trims its log: it grows without bound");
  return warnings;
}

/**
 * The bound between fields: the longest election deadline (timeout plus random delay) and the
 * follower lease (timeout plus drift) must fit a timer. (Heartbeats stay inside the election
 * timeout by the single-field bounds: a timeout above the 10-ms heartbeat floor and a factor of
 * at least 2 give max(10, timeout / factor) < timeout.)
 */
function checkTimings(options: NodeOptions, flags: Readonly<RaftFlags>): void {
  const electionTimeoutMs = options.electionTimeoutMs ?? 1000;
  const delayMs = Math.min(electionTimeoutMs, flags.raft_max_election_delay_ms);
  const longestMs = electionTimeoutMs + Math.max(delayMs, options.maxClockDriftMs ?? 1000);
  if (longestMs > TIMER_MS_MAX) {
    throw new RaftError(
      "EINVAL",
      `NodeOptions.electionTimeoutMs ${electionTimeoutMs} plus its random delay or maxClockDriftMs is ` +
        `${longestMs} ms; allowed: at most ${TIMER_MS_MAX} ms (the longest timer)`,
      { outcome: "refused" },
    );
  }
}

/** What `validateNodeIdentity` needs of the host: RaftServer's `address` ("" before start). */
interface AddressedHost {
  readonly address?: unknown;
}

/** True for braft's IP_ANY (and its IPv6 form), which names no peer another node can dial. */
function isAnyAddress(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::" || ip === "[::]";
}

/**
 * What braft's init refuses about the node's identity: a peer id on 0.0.0.0 (IP_ANY) or on an
 * address its server does not listen on, and a server never started. A host without an address
 * (simulated, in-process) is not checked. Returns warnings: a node outside its own initial
 * configuration will never vote or lead until a leader adds it.
 */
export function validateNodeIdentity(peerId: PeerId, options: NodeOptions): string[] {
  const self = peerId.toString();
  if (isAnyAddress(peerId.ip)) {
    throw new RaftError(
      "EINVAL",
      `peer id ${self}: ${peerId.ip} is no address peers can dial; use the server's IP`,
      {
        outcome: "refused",
      },
    );
  }
  const conf = Configuration.from(options.initialConf ?? "");
  for (const peer of [...conf.peers, ...conf.learners]) {
    if (isAnyAddress(peer.ip))
      throw refusal(
        "a peer of NodeOptions.initialConf",
        peer.toString(),
        "peers on addresses others can dial",
      );
  }
  checkServerAddress(peerId, (options.server as AddressedHost).address);
  checkWitnessRole(peerId, options);
  const learner = conf.learners.some((l) => l.equals(peerId));
  if (conf.isEmpty() || conf.contains(peerId) || learner) return [];
  return [
    `this node (${self}) is not in its initial configuration ${conf.toString()}: ` +
      `it will not vote or lead until a leader adds it`,
  ];
}

function checkServerAddress(peerId: PeerId, address: unknown): void {
  if (address === undefined) return;
  if (typeof address !== "string" || address === "") {
    throw new RaftError(
      "EINVAL",
      `the server of ${peerId.toString()} was never started: await server.start() before init`,
      {
        outcome: "refused",
      },
    );
  }
  const colon = address.lastIndexOf(":");
  const host = address.slice(0, colon);
  const port = Number(address.slice(colon + 1));
  // A server on every interface serves any address with its port (braft's server_exists).
  const matches = port === peerId.port && (isAnyAddress(host) || host === peerId.ip);
  if (!matches) {
    throw new RaftError(
      "EINVAL",
      `peer id ${peerId.toString()} is not an address of its server, which listens on ${address}`,
      { outcome: "refused" },
    );
  }
}

/**
 * A witness is known two ways, as in braft: by NodeOptions.witness on itself and by the role of
 * its PeerId (`:1`) everywhere else (leaders strip data and pick successors by it). They must
 * agree, or leaders would send a witness data it drops, or wake it to lead with none.
 */
function checkWitnessRole(peerId: PeerId, options: NodeOptions): void {
  const witness = options.witness === true;
  if (witness === (peerId.role === 1)) return;
  const self = peerId.toString();
  throw new RaftError(
    "EINVAL",
    witness
      ? `NodeOptions.witness is true but peer id ${self} has no witness role: use ${self}:1`
      : `peer id ${self} has braft's witness role (:1) but NodeOptions.witness is not set`,
    { outcome: "refused" },
  );
}
