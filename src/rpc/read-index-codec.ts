/** tsraft.ReadIndexService messages (proto/tsraft/read_index.proto) <-> the core's plain types. */
import { create, toBinary } from "@bufbuild/protobuf";
import type { ReadIndexRequest, ReadIndexResponse } from "../core/messages.js";
import { peerFromWire } from "./codec.js";
import { ReadIndexRequestSchema, ReadIndexResponseSchema } from "./gen/tsraft/read_index_pb.js";
import { parseMessage, toSafeNumber } from "./proto-util.js";

export const READ_INDEX_SERVICE_NAME = "tsraft.ReadIndexService";

export function encodeReadIndexRequest(r: ReadIndexRequest): Uint8Array {
  return toBinary(
    ReadIndexRequestSchema,
    create(ReadIndexRequestSchema, { groupId: r.groupId, serverId: r.serverId, peerId: r.peerId }),
  );
}

export function decodeReadIndexRequest(bytes: Uint8Array): ReadIndexRequest {
  const m = parseMessage(ReadIndexRequestSchema, bytes);
  return {
    groupId: m.groupId,
    serverId: peerFromWire(m.serverId, "server_id"),
    peerId: peerFromWire(m.peerId, "peer_id"),
  };
}

export function encodeReadIndexResponse(r: ReadIndexResponse): Uint8Array {
  return toBinary(
    ReadIndexResponseSchema,
    create(ReadIndexResponseSchema, { index: BigInt(r.index), success: r.success }),
  );
}

export function decodeReadIndexResponse(bytes: Uint8Array): ReadIndexResponse {
  const m = parseMessage(ReadIndexResponseSchema, bytes);
  return { index: toSafeNumber(m.index, "index"), success: m.success };
}
