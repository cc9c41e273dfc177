/**
 * tsraft's client side (`tsraft/client`, also re-exported from the package root): what a
 * process needs to call a tsraft (or braft) cluster without hosting a node. braft's RouteTable,
 * a leader-following call helper with deadlines and safe retries, braft's CLI operations, and the
 * channel layer for users' own services.
 */
export { RouteTable, type RouteTableOptions } from "./route-table.js";
export {
  ClusterClient,
  type ClusterClientOptions,
  type LeaderCallOptions,
  type LeaderCallResult,
} from "./cluster-client.js";
export type { Redirect, RedirectOf } from "./redirect.js";
export { conventionalRedirect } from "./redirect.js";
export type { ClientClock } from "./deadline.js";
export { channelPool, type CallChannel, type ChannelProvider } from "./channels.js";
export {
  CliClient,
  peersOf,
  type CliClientOptions,
  type CliCallOptions,
  type GroupTarget,
  type PeersChange,
  type LearnersChange,
} from "./cli-client.js";
export * as cli from "./cli.js";
export { Channel, type CallOptions, type CallResult } from "../rpc/channel.js";
export { ChannelPool } from "../rpc/channel-pool.js";
export { callMethod, type TypedResult } from "../rpc/typed-call.js";
export type { MethodsOf, InputOf, OutputOf } from "../rpc/service-registry.js";
export type { Attachment } from "../rpc/baidu-std.js";
export type { ChannelOptions, TlsOptions, Pem } from "../rpc/options.js";
export { PeerId, Configuration, ANY_PEER } from "../node/peer-id.js";
export { RaftError, ErrorCodes, type ErrorCode, type Outcome } from "../core/errors.js";
