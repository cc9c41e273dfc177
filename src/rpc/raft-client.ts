/**
 * RaftClient over channels: a node's requests to its peers, sent as braft's RaftService calls
 * on the one channel per peer endpoint. Errors arrive as RaftError (see docs/wire.md):
 * ERAFTTIMEDOUT on timeout, EHOSTUNREACH when the peer cannot be reached, the peer's own
 * errno when it refused (e.g. ENOENT for a group it does not host).
 */
import { RaftError } from "../core/errors.js";
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  ReadIndexRequest,
  ReadIndexResponse,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { CallResult } from "./channel.js";
import type { ChannelPool } from "./channel-pool.js";
import {
  decodeAppendEntriesResponse,
  decodeInstallSnapshotResponse,
  decodeTimeoutNowResponse,
  decodeVoteResponse,
  encodeAppendEntriesRequest,
  encodeInstallSnapshotRequest,
  encodeTimeoutNowRequest,
  encodeVoteRequest,
  type Encoded,
} from "./codec.js";
import { endpointOfPeer } from "../util/peer-text.js";
import { RAFT_SERVICE_NAME } from "./raft-service-router.js";
import {
  READ_INDEX_SERVICE_NAME,
  decodeReadIndexResponse,
  encodeReadIndexRequest,
} from "./read-index-codec.js";
import { laneOfAppend, type RpcLane } from "./lanes.js";
import type { RaftClient } from "../node/ports.js";

/** The RaftClient of a RaftServer: braft.RaftService calls over its ChannelPool. */
export class RaftRpcClient implements RaftClient {
  constructor(private readonly pool: ChannelPool) {}

  requestVote(to: PeerKey, request: RequestVoteRequest, timeoutMs: number): Promise<RequestVoteResponse> {
    const method = request.preVote ? "pre_vote" : "request_vote";
    return this.call(to, method, () => plain(encodeVoteRequest(request)), timeoutMs, decodeVoteResponse);
  }

  appendEntries(
    to: PeerKey,
    request: AppendEntriesRequest,
    timeoutMs: number,
  ): Promise<AppendEntriesResponse> {
    const encode = (): Encoded => encodeAppendEntriesRequest(request);
    const lane = laneOfAppend(request);
    return this.call(
      to,
      "append_entries",
      encode,
      timeoutMs,
      decodeAppendEntriesResponse,
      RAFT_SERVICE_NAME,
      lane,
    );
  }

  readIndex(to: PeerKey, request: ReadIndexRequest, timeoutMs: number): Promise<ReadIndexResponse> {
    const encode = (): Encoded => plain(encodeReadIndexRequest(request));
    return this.call(to, "read_index", encode, timeoutMs, decodeReadIndexResponse, READ_INDEX_SERVICE_NAME);
  }

  timeoutNow(to: PeerKey, request: TimeoutNowRequest, timeoutMs: number): Promise<TimeoutNowResponse> {
    const encode = (): Encoded => plain(encodeTimeoutNowRequest(request));
    return this.call(to, "timeout_now", encode, timeoutMs, decodeTimeoutNowResponse);
  }

  installSnapshot(
    to: PeerKey,
    request: InstallSnapshotRequest,
    timeoutMs: number,
  ): Promise<InstallSnapshotResponse> {
    const encode = (): Encoded => plain(encodeInstallSnapshotRequest(request));
    return this.call(to, "install_snapshot", encode, timeoutMs, decodeInstallSnapshotResponse);
  }

  /** Encodes inside the async body, so even a bad request rejects instead of throwing. */
  private async call<T>(
    to: PeerKey,
    method: string,
    encode: () => Encoded,
    timeoutMs: number,
    decode: (bytes: Uint8Array) => T,
    service = RAFT_SERVICE_NAME,
    lane: RpcLane = "control",
  ): Promise<T> {
    const channel = this.pool.get(endpointOfPeer(to), lane);
    let encoded: Encoded;
    try {
      encoded = encode();
    } catch (err) {
      throw new RaftError("EINVAL", `cannot encode ${method} to ${to}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const result: CallResult = await channel.call(service, method, encoded.message, {
      timeoutMs,
      attachment: encoded.attachment,
    });
    try {
      return decode(result.message);
    } catch (err) {
      throw new RaftError("EIO", `bad ${method} response from ${to}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

function plain(message: Uint8Array): Encoded {
  return { message, attachment: [] };
}
