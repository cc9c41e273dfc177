/**
 * tsraft.LivenessService on a RaftServer (docs/quiescence.md, docs/wire.md): the process-pair
 * heartbeat, answered by the server's ProcessLiveness, and a leader's Quiesce (alone, or many
 * groups' in one quiesce_batch), routed to the follower's node as braft's RaftService routes its
 * requests. The transport side sends both
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
  decodeQuiesceBatchRequest,
  decodeQuiesceRequest,
  encodeLivenessAck,
  encodeLivenessHeartbeat,
  encodeQuiesceBatchResponse,
  encodeQuiesceResponse,
} from "./liveness-codec.js";
import { QuiesceBatcher } from "./quiesce-batcher.js";
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
  registry.addMethod(LIVENESS_SERVICE_NAME, "quiesce", async (bytes) =>
    encodeQuiesceResponse(await quiesceNode(directory, decodeQuiesceRequest(bytes))),
  );
  registry.addMethod(LIVENESS_SERVICE_NAME, "quiesce_batch", async (bytes) => {
    const requests = decodeQuiesceBatchRequest(bytes);
    const outcomes = await Promise.all(
      requests.map((request) => quiesceNode(directory, request).catch(asRaftError)),
    );
    return encodeQuiesceBatchResponse(outcomes);
  });
}

/** One Quiesce, served by the node it addresses; rejects as its own call would fail. */
async function quiesceNode(directory: NodeDirectory, request: QuiesceRequest): Promise<QuiesceResponse> {
  const node = directory.find(request.groupId, request.peerId);
  if (node.quiesce === undefined) throw new RaftError("ENOSYS", "quiesce is not served by this node");
  return node.quiesce(request);
}

function asRaftError(error: unknown): RaftError {
  return RaftError.is(error) ? error : new RaftError("EIO", String(error), { cause: error });
}

/** The liveness calls of a server's ProcessLiveness, over the server's channels. */
export class RpcLivenessTransport implements LivenessTransport {
  readonly #quiesces: QuiesceBatcher;

  constructor(private readonly pool: ChannelPool) {
    this.#quiesces = new QuiesceBatcher((endpoint, method, message, timeoutMs) =>
      this.#call(endpoint, method, message, timeoutMs),
    );
  }

  async heartbeat(endpoint: string, request: LivenessHeartbeat, timeoutMs: number): Promise<LivenessAck> {
    return decodeLivenessAck(
      await this.#call(endpoint, "heartbeat", encodeLivenessHeartbeat(request), timeoutMs),
    );
  }

  /** Gathered with the other Quiesce calls of this turn to the same server (QuiesceBatcher). */
  quiesce(to: PeerKey, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse> {
    return this.#quiesces.quiesce(endpointOfPeer(to), request, timeoutMs);
  }

  /** One call of tsraft.LivenessService to the server at `endpoint`; its response message. */
  async #call(endpoint: string, method: string, message: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const result = await this.pool
      .get(endpoint, "control")
      .call(LIVENESS_SERVICE_NAME, method, message, { timeoutMs });
    return result.message;
  }
}
