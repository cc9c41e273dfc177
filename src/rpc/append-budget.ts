/**
 * How much entry data one AppendEntries can carry: the receiver's frame limit (brpc's
 * -max_body_size, RaftServerOptions.maxBodyBytes) minus what baidu_std framing puts around the
 * data. apply() refuses a larger entry up front (EINVAL): it could never be replicated, and the
 * leader would retry it forever while its followers closed the connection on every attempt.
 */
import { EntryType } from "../core/types.js";
import { encodeAppendEntriesRequest } from "./codec.js";
import { RAFT_SERVICE_NAME } from "./raft-service-router.js";
import { encodeRequestMeta } from "./wire/rpc-meta-codec.js";

/**
 * The longest peer id the budget allows for, in bytes: an IPv4 `ip:port:idx` with the widest
 * port and a 10-digit index is 32; 64 leaves room for braft's `:role` suffix and host names.
 */
const PEER_ID_BYTES_MAX = 64;

/**
 * Kept free on top of the computed framing: fields the budget does not encode (brpc's trace and
 * span ids, authentication data, a checksum a future braft may add) fit in it many times over,
 * and it costs 0.006% of the default 64 MiB.
 */
export const APPEND_FRAMING_MARGIN_BYTES = 4096;

const INT64_MAX = 2n ** 63n - 1n;

/**
 * The largest entry data (bytes) an AppendEntries of group `groupId` carries in one frame whose
 * body may be at most `maxBodyBytes`: the body holds the RpcMeta, the request message (its
 * fields at their widest: ids of PEER_ID_BYTES_MAX, every integer at 2^53) and the attachment.
 */
export function maxAppendDataBytes(maxBodyBytes: number, groupId: string): number {
  const widestId = "9".repeat(PEER_ID_BYTES_MAX);
  const big = Number.MAX_SAFE_INTEGER;
  const { message } = encodeAppendEntriesRequest({
    groupId,
    serverId: widestId,
    peerId: widestId,
    term: big,
    prevLogTerm: big,
    prevLogIndex: big,
    committedIndex: big,
    entries: [{ index: big, term: big, type: EntryType.DATA, data: new Uint8Array(0) }],
  });
  const meta = encodeRequestMeta({
    service: RAFT_SERVICE_NAME,
    method: "append_entries",
    correlationId: INT64_MAX,
    logId: INT64_MAX,
    timeoutMs: 2 ** 31 - 1,
    attachmentSize: maxBodyBytes,
  });
  // data_len in the entry's meta grows from 1 byte (0) to at most 10 as a varint.
  const dataLenGrowthBytes = 9;
  return maxBodyBytes - meta.length - message.length - dataLenGrowthBytes - APPEND_FRAMING_MARGIN_BYTES;
}
