/** Builds a node's parts from NodeOptions: validation (validate-options.ts), storage, restored state, the core. */
import type { CoreConfig } from "../core/config.js";
import type { ConfigurationManager } from "../core/configuration.js";
import type { HardState } from "../core/types.js";
import { RaftError } from "../core/errors.js";
import { RaftCore } from "../core/raft.js";
import type { Env } from "../env/env.js";
import { globalLogger, withContext, type Logger } from "../env/logger.js";
import { noopNodeMetrics, type NodeMetrics } from "../env/metrics.js";
import type { RaftClient, RaftHost } from "./ports.js";
import type { LogStorage, RaftMetaStorage } from "../storage/interfaces.js";
import {
  createLogStorage,
  createRaftMetaStorage,
  createSnapshotStorage,
  type StorageOptions,
} from "../storage/registry.js";
import type { SnapshotMeta, SnapshotReader, SnapshotStorage } from "../storage/snapshot-storage.js";
import type { ClosureQueue } from "./closure-queue.js";
import { resolveFlags, type RaftFlags } from "./flags.js";
import { FSMCaller, type FsmCallerHost } from "./fsm-caller.js";
import { LogManager } from "./log-manager.js";
import type { NodeOptions } from "./options.js";
import { Configuration, type PeerId } from "./peer-id.js";
import {
  SnapshotExecutor,
  installSlotsOf,
  toMetaData,
  type SnapshotExecutorHost,
} from "./snapshot-executor.js";
import { observeSnapshot, type SnapshotObserver } from "./snapshot-observer.js";
import { validateNodeIdentity, validateNodeOptions } from "./validate-options.js";
import type { ProcessLiveness } from "./process-liveness.js";
import { endpointOfPeer, parsePeerId } from "../util/peer-text.js";

/** The storage fields of NodeOptions (also what bootstrap takes). */
export type StorageChoice = Pick<
  NodeOptions,
  | "logUri"
  | "raftMetaUri"
  | "snapshotUri"
  | "logStorage"
  | "raftMetaStorage"
  | "snapshotStorage"
  | "snapshotFileSystemAdaptor"
>;

/** The running parts of an initialized node. */
export interface PreparedNode {
  readonly core: RaftCore;
  readonly logManager: LogManager;
  readonly fsmCaller: FSMCaller;
  /** Undefined when the node has no snapshot storage. */
  readonly snapshotExecutor: SnapshotExecutor | undefined;
  readonly server: RaftHost;
  readonly client: RaftClient;
  readonly flags: Readonly<RaftFlags>;
  readonly options: NodeOptions;
  readonly electionTimeoutMs: number;
  readonly rpcTimeoutMs: number;
  /** The node's logger, its group and peer added to every line. */
  readonly logger: Logger;
  /** The node's metrics (its host's, labels bound); the no-op when the host keeps none. */
  readonly metrics: NodeMetrics;
}

/**
 * A node's parts once its storage is open and its state restored, before the parts that call
 * back into the running node (FSMCaller, SnapshotExecutor) exist: see assembleNode.
 */
export interface OpenedNode extends Omit<PreparedNode, "fsmCaller" | "snapshotExecutor"> {
  /** Undefined when the node has no snapshot storage. */
  readonly snapshotStorage: SnapshotStorage | undefined;
  readonly observer: SnapshotObserver;
}

/** What prepareParts opened so far, for prepareNode to close when a later step fails. */
interface OpenedStorage {
  logManager?: LogManager;
}

const DEFAULT_ELECTION_TIMEOUT_MS = 1000;
const DEFAULT_MAX_CLOCK_DRIFT_MS = 1000;
const DEFAULT_CATCHUP_MARGIN = 1000;
/** braft's catchup_timeout_ms default: 0, which means the election timeout. */
const DEFAULT_CATCHUP_TIMEOUT_MS = 0;

export async function prepareNode(
  groupId: string,
  peerId: PeerId,
  options: NodeOptions,
  env: Env,
): Promise<OpenedNode> {
  const warnings = [...validateNodeOptions(options), ...validateNodeIdentity(peerId, options)];
  const logger = withContext(options.logger ?? options.server.logger ?? globalLogger, {
    group: groupId,
    peer: peerId.toString(),
  });
  for (const warning of warnings) logger.warn(warning);
  const metrics = options.server.metrics?.node(groupId, peerId.toString()) ?? noopNodeMetrics;
  const opened: OpenedStorage = {};
  try {
    return await prepareParts(groupId, peerId, options, env, logger, metrics, opened);
  } catch (error) {
    // Storage opened before the failure is released (directory locks included).
    await opened.logManager?.close().catch(() => undefined);
    metrics.close();
    throw error;
  }
}

async function prepareParts(
  groupId: string,
  peerId: PeerId,
  options: NodeOptions,
  env: Env,
  logger: Logger,
  metrics: NodeMetrics,
  opened: OpenedStorage,
): Promise<OpenedNode> {
  const flags = resolveFlags(options.flags);
  const electionTimeoutMs = options.electionTimeoutMs ?? DEFAULT_ELECTION_TIMEOUT_MS;
  const initialConf = Configuration.from(options.initialConf ?? "");
  const storageOptions: StorageOptions = {
    ...storageFlagsOf(flags),
    logger,
    metrics,
    // Recorded in and checked against each local:// directory; shared so the node's storages
    // may share one directory while every other opener is refused.
    owner: { group: groupId, peer: peerId.toString() },
  };
  const logManager = new LogManager(
    logStorageOf(options, storageOptions),
    metaStorageOf(options, storageOptions),
    flags.raft_leader_batch,
    { nowMs: () => env.nowMs(), metrics },
    flags.raft_max_append_buffer_size,
  );
  const snapshotStorage = snapshotStorageOf(options, storageOptions);
  if (snapshotStorage?.close !== undefined) logManager.closeAlso(() => snapshotStorage.close!());
  opened.logManager = logManager;
  const observer: SnapshotObserver = { logger, metrics, nowMs: () => env.nowMs() };
  const restored = await openState(logManager, snapshotStorage, options, initialConf, observer);
  const { hardState, confs, snapshot } = restored;
  const snapshotIndex = snapshot?.lastIncludedIndex ?? 0;
  const heartbeatIntervalMs = Math.max(
    10,
    Math.floor(electionTimeoutMs / flags.raft_election_heartbeat_factor),
  );
  const config: CoreConfig = {
    groupId,
    self: peerId.toString(),
    electionTimeoutMs,
    maxElectionDelayMs: flags.raft_max_election_delay_ms,
    heartbeatIntervalMs,
    electionHeartbeatFactor: flags.raft_election_heartbeat_factor,
    maxClockDriftMs: options.maxClockDriftMs ?? DEFAULT_MAX_CLOCK_DRIFT_MS,
    leaderLeaseEnabled: flags.raft_enable_leader_lease,
    stepDownWhenVoteTimedOut: flags.raft_step_down_when_vote_timedout,
    inflightAppendsMax: flags.raft_max_parallel_append_entries_rpc_num,
    appendEntriesMax: flags.raft_max_entries_size,
    appendBytesMax: flags.raft_max_body_size,
    catchupMargin: options.catchupMargin ?? DEFAULT_CATCHUP_MARGIN,
    catchupTimeoutMs: options.catchupTimeoutMs ?? DEFAULT_CATCHUP_TIMEOUT_MS,
    witness: options.witness === true,
    witnessToLeader: flags.raft_enable_witness_to_leader,
    isWitnessPeer: (peer) => parsePeerId(peer)?.role === 1,
    ...quiescenceConfig(options.server.liveness, flags, heartbeatIntervalMs),
    random: () => env.random(),
  };
  const core = new RaftCore(config, hardState, logManager, confs, env.nowMs(), snapshotIndex);
  return {
    core,
    logManager,
    snapshotStorage,
    observer,
    server: options.server,
    client: options.server.client,
    flags,
    options,
    electionTimeoutMs,
    rpcTimeoutMs: electionTimeoutMs,
    logger,
    metrics,
  };
}

/** braft's storage flags, as every storage factory receives them (they are node flags, as in braft). */
function storageFlagsOf(flags: Readonly<RaftFlags>): StorageOptions {
  return {
    raft_sync: flags.raft_sync,
    raft_sync_policy: flags.raft_sync_policy,
    raft_sync_per_bytes: flags.raft_sync_per_bytes,
    raft_sync_meta: flags.raft_sync_meta,
    raft_sync_segments: flags.raft_sync_segments,
    raft_create_parent_directories: flags.raft_create_parent_directories,
    raft_use_fsync_rather_than_fdatasync: flags.raft_use_fsync_rather_than_fdatasync,
    raft_recover_log_from_corrupt: flags.raft_recover_log_from_corrupt,
    raft_meta_write_batch: flags.raft_meta_write_batch,
    raft_max_segment_size: flags.raft_max_segment_size,
  };
}

/** What the callbacks of a node's FSMCaller and SnapshotExecutor reach. */
export interface NodeHosts {
  readonly closureQueue: ClosureQueue;
  readonly fsmHost: FsmCallerHost;
  readonly snapshotHost: SnapshotExecutorHost;
}

/** Completes an opened node with the parts that call back into it (FSMCaller, SnapshotExecutor). */
export function assembleNode(opened: OpenedNode, hosts: NodeHosts): PreparedNode {
  const { core, logManager, snapshotStorage, observer, options, flags } = opened;
  const fsmCaller = new FSMCaller(
    options.fsm,
    logManager,
    hosts.closureQueue,
    hosts.fsmHost,
    core.appliedIndex,
    { witness: options.witness === true, entriesPerApplyMax: flags.raft_fsm_caller_commit_batch },
  );
  const snapshotExecutor =
    snapshotStorage === undefined
      ? undefined
      : new SnapshotExecutor(
          snapshotStorage,
          options.server.snapshotTransfer,
          fsmCaller,
          logManager,
          hosts.snapshotHost,
          {
            minIndexGap: flags.raft_do_snapshot_min_index_gap,
            logMarginEntries: options.snapshotLogMarginEntries,
            filterBeforeCopyRemote: options.filterBeforeCopyRemote ?? false,
            throttle: options.snapshotThrottle,
            installTasksMax: flags.raft_max_install_snapshot_tasks_num,
            maxByteCountPerRpc: flags.raft_max_byte_count_per_rpc,
            installSlots: installSlotsOf(options.server),
            observer,
            witness: options.witness === true,
          },
        );
  return {
    core,
    logManager,
    fsmCaller,
    snapshotExecutor,
    server: opened.server,
    client: opened.client,
    flags,
    options,
    electionTimeoutMs: opened.electionTimeoutMs,
    rpcTimeoutMs: opened.rpcTimeoutMs,
    logger: opened.logger,
    metrics: opened.metrics,
  };
}

/** Restores the snapshot and opens the log; closes the storage again if anything fails. */
async function openState(
  logManager: LogManager,
  snapshotStorage: SnapshotStorage | undefined,
  options: NodeOptions,
  initialConf: Configuration,
  observer: SnapshotObserver,
): Promise<{ hardState: HardState; confs: ConfigurationManager; snapshot: SnapshotMeta | undefined }> {
  try {
    const snapshot =
      snapshotStorage === undefined ? undefined : await restoreSnapshot(snapshotStorage, options, observer);
    const snapshotState =
      snapshot === undefined
        ? undefined
        : {
            id: { index: snapshot.lastIncludedIndex, term: snapshot.lastIncludedTerm },
            conf: toMetaData(snapshot).conf,
          };
    const opened = await logManager.init(
      { peers: initialConf.peerKeys(), learners: initialConf.learnerKeys() },
      snapshotState,
    );
    return { ...opened, snapshot };
  } catch (error) {
    await logManager.close().catch(() => undefined);
    throw error;
  }
}

export function snapshotStorageOf(
  options: StorageChoice,
  storageOptions: StorageOptions,
): SnapshotStorage | undefined {
  const storage =
    options.snapshotStorage ??
    (options.snapshotUri === undefined
      ? undefined
      : createSnapshotStorage(options.snapshotUri, storageOptions));
  const fs = options.snapshotFileSystemAdaptor;
  if (storage === undefined || fs === undefined) return storage;
  // braft CHECK-fails on a storage without set_file_system_adaptor; a user gets a refusal.
  if (storage.setFileSystemAdaptor === undefined) {
    throw new RaftError(
      "EINVAL",
      `NodeOptions.snapshotFileSystemAdaptor is set but the snapshot storage ` +
        `(${options.snapshotUri ?? "NodeOptions.snapshotStorage"}) does not take one (no setFileSystemAdaptor)`,
      { outcome: "refused" },
    );
  }
  storage.setFileSystemAdaptor(fs);
  return storage;
}

/** Loads the newest snapshot into the state machine (braft does this before reading the log). */
async function restoreSnapshot(
  storage: SnapshotStorage,
  options: NodeOptions,
  observer: SnapshotObserver,
): Promise<SnapshotMeta | undefined> {
  await storage.init();
  const reader = await storage.open();
  if (reader === undefined) return undefined;
  const startMs = observer.nowMs();
  let meta: SnapshotMeta | undefined;
  try {
    meta = reader.loadMeta();
    observer.logger.info("snapshot load started", { index: meta.lastIncludedIndex, at: "init" });
    await loadIntoStateMachine(reader, meta, options);
    observeSnapshot(observer, "load", startMs, undefined, meta.lastIncludedIndex);
    return meta;
  } catch (error) {
    observeSnapshot(observer, "load", startMs, error, meta?.lastIncludedIndex);
    throw error;
  } finally {
    await storage.closeReader(reader);
  }
}

async function loadIntoStateMachine(
  reader: SnapshotReader,
  meta: SnapshotMeta,
  options: NodeOptions,
): Promise<void> {
  // A witness's snapshots hold only their meta: its state machine has nothing to load (braft
  // copies no files to a witness either).
  if (options.witness !== true && options.fsm.onSnapshotLoad === undefined) {
    throw new RaftError(
      "EINVAL",
      "a snapshot exists but the state machine does not implement onSnapshotLoad",
    );
  }
  try {
    if (options.witness !== true) await options.fsm.onSnapshotLoad?.(reader);
  } catch (error) {
    throw new RaftError("ESTATEMACHINE", `onSnapshotLoad failed: ${String(error)}`, { cause: error });
  }
  if ((meta.oldPeers ?? []).length === 0) {
    const conf = new Configuration(meta.peers, meta.learners ?? []);
    await options.fsm.onConfigurationCommitted?.(conf, meta.lastIncludedIndex);
  }
}

export function logStorageOf(options: StorageChoice, storageOptions: StorageOptions): LogStorage {
  if (options.logStorage !== undefined) return options.logStorage;
  if (options.logUri === undefined) throw new RaftError("EINVAL", "NodeOptions needs logUri (or logStorage)");
  return createLogStorage(options.logUri, storageOptions);
}

export function metaStorageOf(options: StorageChoice, storageOptions: StorageOptions): RaftMetaStorage {
  if (options.raftMetaStorage !== undefined) return options.raftMetaStorage;
  if (options.raftMetaUri === undefined)
    throw new RaftError("EINVAL", "NodeOptions needs raftMetaUri (or raftMetaStorage)");
  return createRaftMetaStorage(options.raftMetaUri, storageOptions);
}

/** The core's quiescence knobs: only on a host with process liveness (docs/quiescence.md). */
function quiescenceConfig(
  liveness: ProcessLiveness | undefined,
  flags: Readonly<RaftFlags>,
  heartbeatIntervalMs: number,
): Pick<CoreConfig, "quiesceIdleMs" | "quiescePeer" | "quiescePeerDead"> {
  if (liveness === undefined || flags.tsraft_quiesce_after_heartbeats <= 0) return {};
  return {
    quiesceIdleMs: flags.tsraft_quiesce_after_heartbeats * heartbeatIntervalMs,
    quiescePeer: (peer) => liveness.mayQuiesceWith(endpointOfPeer(peer)),
    quiescePeerDead: (peer) => liveness.isDead(endpointOfPeer(peer)),
  };
}
