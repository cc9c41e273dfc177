/**
 * The rpc layer: brpc's baidu_std protocol with braft's services. RaftRpcServer is the server
 * (the package's RaftServer adds the status pages to it); the rest is exported for tools (the
 * CLI) and tests.
 */
export { RaftRpcServer } from "./raft-server.js";
export type { ChannelOptions, RaftServerOptions, TlsOptions, Pem } from "./options.js";
export { RpcDefaults } from "./options.js";
export { Channel, type CallOptions, type CallResult } from "./channel.js";
export { ChannelPool } from "./channel-pool.js";
export { RaftRpcClient } from "./raft-client.js";
export { callMethod, type TypedResult } from "./typed-call.js";
export type { CallContext, RawMethodHandler, ServiceImpl } from "./service-registry.js";
export type { HttpHandler } from "./http-front.js";
export type { Attachment } from "./baidu-std.js";
export { FrameError, FrameParser, DEFAULT_MAX_BODY_BYTES, HEADER_BYTES } from "./frame.js";
export { canonicalPeerKey, parsePeerId, endpointOfPeer, type ParsedPeerId } from "../util/peer-text.js";
export { BrpcErrno, errorFromWire } from "./rpc-errors.js";
export { RAFT_SERVICE_NAME } from "./raft-service-router.js";
export type * from "../node/ports.js";
export type { RpcLane } from "./lanes.js";
