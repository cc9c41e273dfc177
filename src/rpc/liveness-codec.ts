/**
 * tsraft.LivenessService messages (proto/tsraft/liveness.proto) <-> the node's plain types: the
 * process-pair heartbeat and a leader's Quiesce (docs/quiescence.md).
 */
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { RaftError, errorCodeOf } from "../core/errors.js";
import type { QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import type { LivenessAck, LivenessHeartbeat } from "../node/ports.js";
import { peerFromWire } from "./codec.js";
import {
  LivenessHeartbeatRequestSchema,
  LivenessHeartbeatResponseSchema,
  QuiesceBatchRequestSchema,
  QuiesceBatchResponseSchema,
  QuiesceRequestSchema,
  QuiesceResponseSchema,
  type QuiesceRequest as WireQuiesceRequest,
  type QuiesceResponse as WireQuiesceResponse,
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
  return toBinary(QuiesceRequestSchema, create(QuiesceRequestSchema, quiesceRequestFields(r)));
}

export function decodeQuiesceRequest(bytes: Uint8Array): QuiesceRequest {
  return quiesceRequestOf(parseMessage(QuiesceRequestSchema, bytes));
}

export function encodeQuiesceResponse(r: QuiesceResponse): Uint8Array {
  return toBinary(QuiesceResponseSchema, create(QuiesceResponseSchema, quiesceResponseFields(r)));
}

export function decodeQuiesceResponse(bytes: Uint8Array): QuiesceResponse {
  return quiesceResponseOf(parseMessage(QuiesceResponseSchema, bytes));
}

/** One request's outcome in a batch: its response, or the error its own call would have had. */
export type QuiesceOutcome = QuiesceResponse | RaftError;

export function encodeQuiesceBatchRequest(requests: readonly QuiesceRequest[]): Uint8Array {
  return toBinary(
    QuiesceBatchRequestSchema,
    create(QuiesceBatchRequestSchema, { requests: requests.map(quiesceRequestFields) }),
  );
}

export function decodeQuiesceBatchRequest(bytes: Uint8Array): QuiesceRequest[] {
  return parseMessage(QuiesceBatchRequestSchema, bytes).requests.map(quiesceRequestOf);
}

export function encodeQuiesceBatchResponse(outcomes: readonly QuiesceOutcome[]): Uint8Array {
  const wire = outcomes.map((outcome) =>
    RaftError.is(outcome)
      ? { errorCode: outcome.errno, errorText: outcome.message }
      : { response: quiesceResponseFields(outcome) },
  );
  return toBinary(QuiesceBatchResponseSchema, create(QuiesceBatchResponseSchema, { outcomes: wire }));
}

/** The outcomes of a batch; `count` is how many requests it carried (a short answer is an error). */
export function decodeQuiesceBatchResponse(bytes: Uint8Array, count: number): QuiesceOutcome[] {
  const { outcomes } = parseMessage(QuiesceBatchResponseSchema, bytes);
  if (outcomes.length !== count) {
    throw new RaftError("EIO", `quiesce_batch answered ${outcomes.length} outcomes for ${count} requests`);
  }
  return outcomes.map((o) =>
    o.response !== undefined
      ? quiesceResponseOf(o.response)
      : new RaftError(errorCodeOf(o.errorCode) ?? "EIO", o.errorText),
  );
}

function quiesceRequestFields(r: QuiesceRequest): MessageInitShape<typeof QuiesceRequestSchema> {
  return {
    groupId: r.groupId,
    serverId: r.serverId,
    peerId: r.peerId,
    term: BigInt(r.term),
    lastLogIndex: BigInt(r.lastLogIndex),
    lastLogTerm: BigInt(r.lastLogTerm),
    committedIndex: BigInt(r.committedIndex),
  };
}

function quiesceRequestOf(m: WireQuiesceRequest): QuiesceRequest {
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

function quiesceResponseFields(r: QuiesceResponse): MessageInitShape<typeof QuiesceResponseSchema> {
  return { term: BigInt(r.term), success: r.success };
}

function quiesceResponseOf(m: WireQuiesceResponse): QuiesceResponse {
  return { term: toSafeNumber(m.term, "term"), success: m.success };
}
