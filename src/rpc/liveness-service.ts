/**
 * tsraft.LivenessService on a RaftServer (docs/quiescence.md, docs/wire.md): the process-pair
 * heartbeat, answered by the server's ProcessLiveness, and a leader's Quiesce, routed to the
 * follower's node as braft's RaftService routes its requests. The transport side sends both
 * through the server's channels. A braft server answers ENOSERVICE, which callers see as ENOSYS.
 */
import { RaftError } from "../core/errors.js";
import type { QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { LivenessAck, LivenessHeartbeat, LivenessTransport } from "../node/ports.js";
import type { ProcessLiveness } from "../node/process-liveness.js";
import { endpointOfPeer } from "../util/peer-text.js";
import type { ChannelPool } from "./channel-pool.js";
import {
  LIVENESS_SERVICE_NAME,
  decodeLivenessAck,
  decodeLivenessHeartbeat,
  decodeQuiesceRequest,
  decodeQuiesceResponse,
  encodeLivenessAck,
  encodeLivenessHeartbeat,
  encodeQuiesceRequest,
  encodeQuiesceResponse,
} from "./liveness-codec.js";
import type { NodeDirectory } from "./raft-service-router.js";
import type { ServiceRegistry } from "./service-registry.js";

/** Serves tsraft.LivenessService from `liveness` and the nodes of `directory`. */
export function addLivenessService(
  registry: ServiceRegistry,
  directory: NodeDirectory,
  liveness: ProcessLiveness,
): void {
  registry.addMethod(LIVENESS_SERVICE_NAME, "heartbeat", (bytes) =>
    Promise.resolve(encodeLivenessAck(liveness.onHeartbeat(decodeLivenessHeartbeat(bytes)))),
  );
  registry.addMethod(LIVENESS_SERVICE_NAME, "quiesce", async (bytes) => {
    const request = decodeQuiesceRequest(bytes);
    const node = directory.find(request.groupId, request.peerId);
    if (node.quiesce === undefined) throw new RaftError("ENOSYS", "quiesce is not served by this node");
    return encodeQuiesceResponse(await node.quiesce(request));
  });
}

/** The liveness calls of a server's ProcessLiveness, over the server's channels. */
export class RpcLivenessTransport implements LivenessTransport {
  constructor(private readonly pool: ChannelPool) {}

  async heartbeat(endpoint: string, request: LivenessHeartbeat, timeoutMs: number): Promise<LivenessAck> {
    const result = await this.pool
      .get(endpoint, "control")
      .call(LIVENESS_SERVICE_NAME, "heartbeat", encodeLivenessHeartbeat(request), { timeoutMs });
    return decodeLivenessAck(result.message);
  }

  async quiesce(to: PeerKey, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse> {
    const result = await this.pool
      .get(endpointOfPeer(to), "control")
      .call(LIVENESS_SERVICE_NAME, "quiesce", encodeQuiesceRequest(request), { timeoutMs });
    return decodeQuiesceResponse(result.message);
  }
}
