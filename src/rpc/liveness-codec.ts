/**
 * tsraft.LivenessService messages (proto/tsraft/liveness.proto) <-> the node's plain types: the
 * process-pair heartbeat and a leader's Quiesce (docs/quiescence.md).
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type { QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import type { LivenessAck, LivenessHeartbeat } from "../node/ports.js";
import { peerFromWire } from "./codec.js";
import {
  LivenessHeartbeatRequestSchema,
  LivenessHeartbeatResponseSchema,
  QuiesceRequestSchema,
  QuiesceResponseSchema,
} from "./gen/tsraft/liveness_pb.js";
import { parseMessage, toSafeNumber } from "./proto-util.js";

export const LIVENESS_SERVICE_NAME = "tsraft.LivenessService";

export function encodeLivenessHeartbeat(h: LivenessHeartbeat): Uint8Array {
  return toBinary(
    LivenessHeartbeatRequestSchema,
    create(LivenessHeartbeatRequestSchema, {
      from: h.from,
      incarnation: BigInt(h.incarnation),
      goneLeaders: [...h.goneLeaders],
      wakeLeaders: [...h.wakeLeaders],
    }),
  );
}

export function decodeLivenessHeartbeat(bytes: Uint8Array): LivenessHeartbeat {
  const m = parseMessage(LivenessHeartbeatRequestSchema, bytes);
  return {
    from: m.from,
    incarnation: toSafeNumber(m.incarnation, "incarnation"),
    goneLeaders: m.goneLeaders,
    wakeLeaders: m.wakeLeaders,
  };
}

export function encodeLivenessAck(a: LivenessAck): Uint8Array {
  return toBinary(
    LivenessHeartbeatResponseSchema,
    create(LivenessHeartbeatResponseSchema, { incarnation: BigInt(a.incarnation) }),
  );
}

export function decodeLivenessAck(bytes: Uint8Array): LivenessAck {
  const m = parseMessage(LivenessHeartbeatResponseSchema, bytes);
  return { incarnation: toSafeNumber(m.incarnation, "incarnation") };
}

export function encodeQuiesceRequest(r: QuiesceRequest): Uint8Array {
  return toBinary(
    QuiesceRequestSchema,
    create(QuiesceRequestSchema, {
      groupId: r.groupId,
      serverId: r.serverId,
      peerId: r.peerId,
      term: BigInt(r.term),
      lastLogIndex: BigInt(r.lastLogIndex),
      lastLogTerm: BigInt(r.lastLogTerm),
      committedIndex: BigInt(r.committedIndex),
    }),
  );
}

export function decodeQuiesceRequest(bytes: Uint8Array): QuiesceRequest {
  const m = parseMessage(QuiesceRequestSchema, bytes);
  return {
    groupId: m.groupId,
    serverId: peerFromWire(m.serverId, "server_id"),
    peerId: peerFromWire(m.peerId, "peer_id"),
    term: toSafeNumber(m.term, "term"),
    lastLogIndex: toSafeNumber(m.lastLogIndex, "last_log_index"),
    lastLogTerm: toSafeNumber(m.lastLogTerm, "last_log_term"),
    committedIndex: toSafeNumber(m.committedIndex, "committed_index"),
  };
}

export function encodeQuiesceResponse(r: QuiesceResponse): Uint8Array {
  return toBinary(
    QuiesceResponseSchema,
    create(QuiesceResponseSchema, { term: BigInt(r.term), success: r.success }),
  );
}

export function decodeQuiesceResponse(bytes: Uint8Array): QuiesceResponse {
  const m = parseMessage(QuiesceResponseSchema, bytes);
  return { term: toSafeNumber(m.term, "term"), success: m.success };
}
