/**
 * tsraft: Raft consensus for Node.js, in the shape of Baidu's braft.
 *
 * The curated public surface; everything else is internal.
 */
export { RaftNode } from "./node/raft-node.js";
export type { NodeOptions } from "./node/options.js";
export type { StateMachine, LeaderChangeContext } from "./node/state-machine.js";
export { Iterator, type IteratedEntry } from "./node/iterator.js";
export type { Task, ApplyResult } from "./node/apply-queue.js";
export type { ReadIndexResult } from "./node/read-waiters.js";
export type { UserLog } from "./node/node-admin.js";
export { Status, type Closure, type ApplyClosure } from "./node/status.js";
export { PeerId, Configuration, ANY_PEER } from "./node/peer-id.js";
export { flags, defaultFlags, type RaftFlags } from "./node/flags.js";
export type { NodeStatus, NodeState, ReplicatorStatus, TimerStatus, ConfStage } from "./node/node-status.js";
export type { RaftStatJson, FlagJson } from "./status/index.js";
export { RaftError, ErrorCodes, errorCodeOf, type ErrorCode, type Outcome } from "./core/errors.js";
export type { LeaderLeaseStatus, LeaseState } from "./core/lease.js";
export { EntryType, type LogEntry, type HardState, type ConfigurationData } from "./core/types.js";
export type { LogStorage, RaftMetaStorage } from "./storage/interfaces.js";
export {
  registerLogStorage,
  registerRaftMetaStorage,
  registerSnapshotStorage,
  createLogStorage,
  createRaftMetaStorage,
  createSnapshotStorage,
  type StorageOptions,
} from "./storage/registry.js";
export type { RaftHost, RaftService, RaftClient } from "./node/ports.js";
export { realEnv, type Env, type CancelTimer } from "./env/env.js";
export { RaftServer } from "./server.js";
export type { RaftServerOptions, ChannelOptions, TlsOptions } from "./rpc/options.js";
export type { OperatorAccess } from "./rpc/operator-access.js";
export { bootstrap, type BootstrapOptions } from "./node/bootstrap.js";
export type {
  SnapshotStorage,
  SnapshotWriter,
  SnapshotReader,
  SnapshotMeta,
  SnapshotFileMeta,
} from "./storage/snapshot-storage.js";
export type { SnapshotTransfer, SnapshotThrottle, SnapshotCopyOptions } from "./node/ports.js";
export {
  setLogger,
  getLogger,
  createDefaultLogger,
  silentLogger,
  type Logger,
  type LogLevel,
  type LogFields,
  type DefaultLoggerOptions,
} from "./env/logger.js";
export type { RaftMetrics, NodeMetrics, RpcMetrics, TrafficCounter, SnapshotOp } from "./env/metrics.js";
