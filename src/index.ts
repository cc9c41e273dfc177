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
export { Status, type Closure, type ApplyClosure } from "./node/closure.js";
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
  createLogStorageFromUri,
  createRaftMetaStorageFromUri,
  createSnapshotStorageFromUri,
  type StorageOptions,
  type StorageFactory,
  type LogStorageFactory,
  type RaftMetaStorageFactory,
  type SnapshotStorageFactory,
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
// braft's FileSystemAdaptor (NodeOptions.snapshotFileSystemAdaptor): see docs/storage.md.
export {
  PosixFileSystemAdaptor,
  defaultFileSystem,
  FileOpenFlags,
  type FileSystemAdaptor,
  type FileAdaptor,
} from "./storage/fs-adaptor.js";
export { MemoryFileSystemAdaptor } from "./storage/fs-adaptor-memory.js";
export {
  ThroughputSnapshotThrottle,
  type ThroughputSnapshotThrottleOptions,
  type CopyClock,
} from "./rpc/snapshot-throttle.js";
export type { RpcSnapshotTransferOptions } from "./rpc/snapshot-transfer.js";
export type { ServiceImpl, CallContext, RawMethodHandler } from "./rpc/service-registry.js";
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
// The client side (also the `tsraft/client` entry point): see src/client/index.ts.
export {
  RouteTable,
  ClusterClient,
  CliClient,
  cli,
  conventionalRedirect,
  channelPool,
  peersOf,
  Channel,
  ChannelPool,
  callMethod,
  type RouteTableOptions,
  type ClusterClientOptions,
  type LeaderCallOptions,
  type LeaderCallResult,
  type Redirect,
  type RedirectOf,
  type ClientClock,
  type CallChannel,
  type ChannelProvider,
  type CliClientOptions,
  type CliCallOptions,
  type GroupTarget,
  type PeersChange,
  type LearnersChange,
  type CallOptions,
  type CallResult,
  type TypedResult,
  type MethodsOf,
  type InputOf,
  type OutputOf,
  type Attachment,
  type Pem,
} from "./client/index.js";
