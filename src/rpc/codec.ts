/**
 * Maps braft's protobuf messages to the core's plain messages and back.
 *
 * Decoding canonicalizes every PeerId (`ip:port` and `ip:port:idx:0` become `ip:port:idx`) and
 * turns int64 fields into numbers. AppendEntries carries entry data in the attachment, as braft
 * does: EntryMeta i has `data_len` bytes, concatenated in entry order; entry i's index is
 * prev_log_index + 1 + i. Decoded entry data are views into the received frame, never copies.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import type {
  AppendEntriesRequest,
  AppendEntriesResponse,
  RequestVoteRequest,
  RequestVoteResponse,
  TermLeader,
  TimeoutNowRequest,
  TimeoutNowResponse,
} from "../core/messages.js";
import type { ConfigurationData, PeerKey } from "../core/types.js";
import {
  InstallSnapshotRequestSchema,
  InstallSnapshotResponseSchema,
  RequestVoteRequestSchema,
  RequestVoteResponseSchema,
  TimeoutNowRequestSchema,
  TimeoutNowResponseSchema,
  type SnapshotMeta,
} from "./gen/braft/raft_pb.js";
import { parsePeerId, formatPeerId } from "../util/peer-text.js";
import { ProtoParseError, parseMessage, toSafeNumber } from "./proto-util.js";
import {
  decodeAppendEntriesMessage,
  decodeAppendEntriesResponseMessage,
  encodeAppendEntriesMessage,
  encodeAppendEntriesResponseMessage,
} from "./wire/append-entries-codec.js";
import type { InstallSnapshotRequest, InstallSnapshotResponse, SnapshotMetaData } from "../core/messages.js";

/** An encoded request or response: the protobuf message and the attachment parts after it. */
export interface Encoded {
  readonly message: Uint8Array;
  readonly attachment: readonly Uint8Array[];
}

/** Canonical forms of the PeerIds seen lately: a group's few peers arrive in every message. */
const canonicalPeers = new Map<string, PeerKey>();
const CANONICAL_PEERS_MAX = 4096;

/** A PeerId received from the wire, canonicalized; ProtoParseError when malformed. */
export function peerFromWire(text: string, what: string): PeerKey {
  const known = canonicalPeers.get(text);
  if (known !== undefined) return known;
  const peer = parsePeerId(text);
  if (peer === undefined) throw new ProtoParseError(`${what} "${text}" is not a PeerId`);
  const canonical = formatPeerId(peer);
  if (canonicalPeers.size >= CANONICAL_PEERS_MAX) canonicalPeers.clear();
  canonicalPeers.set(text, canonical);
  return canonical;
}

function peersFromWire(list: readonly string[], what: string): PeerKey[] {
  return list.map((text) => peerFromWire(text, what));
}

const big = (value: number): bigint => BigInt(value);

// ---- RequestVote (pre_vote and request_vote) ----

/** RequestVoteRequest, braft's disrupted_leader included (see docs/wire.md). */
export function encodeVoteRequest(r: RequestVoteRequest): Uint8Array {
  return toBinary(
    RequestVoteRequestSchema,
    create(RequestVoteRequestSchema, {
      groupId: r.groupId,
      serverId: r.serverId,
      peerId: r.peerId,
      term: big(r.term),
      lastLogTerm: big(r.lastLogTerm),
      lastLogIndex: big(r.lastLogIndex),
      ...(r.disruptedLeader === undefined
        ? {}
        : { disruptedLeader: { peerId: r.disruptedLeader.peerId, term: big(r.disruptedLeader.term) } }),
    }),
  );
}

/** RequestVoteRequest from the wire; `preVote` comes from the method (pre_vote or request_vote). */
export function decodeVoteRequest(bytes: Uint8Array, preVote: boolean): RequestVoteRequest {
  const m = parseMessage(RequestVoteRequestSchema, bytes);
  return {
    groupId: m.groupId,
    serverId: peerFromWire(m.serverId, "server_id"),
    peerId: peerFromWire(m.peerId, "peer_id"),
    term: toSafeNumber(m.term, "term"),
    lastLogTerm: toSafeNumber(m.lastLogTerm, "last_log_term"),
    lastLogIndex: toSafeNumber(m.lastLogIndex, "last_log_index"),
    preVote,
    ...(m.disruptedLeader === undefined
      ? {}
      : { disruptedLeader: disruptedLeaderFromWire(m.disruptedLeader) }),
  };
}

/**
 * braft parses disrupted_leader and ignores it when malformed; a PeerId that matches no leader
 * (older tsraft sent "0.0.0.0:0:0") expires no lease either.
 */
function disruptedLeaderFromWire(m: { peerId: string; term: bigint }): TermLeader | undefined {
  const peer = parsePeerId(m.peerId);
  if (peer === undefined) return undefined;
  return { peerId: formatPeerId(peer), term: toSafeNumber(m.term, "disrupted_leader.term") };
}

/** RequestVoteResponse; the optional fields only when the core set them (braft sets all three). */
export function encodeVoteResponse(r: RequestVoteResponse): Uint8Array {
  return toBinary(
    RequestVoteResponseSchema,
    create(RequestVoteResponseSchema, {
      term: big(r.term),
      granted: r.granted,
      ...(r.disrupted === undefined ? {} : { disrupted: r.disrupted }),
      ...(r.previousTerm === undefined ? {} : { previousTerm: big(r.previousTerm) }),
      ...(r.rejectedByLease === undefined ? {} : { rejectedByLease: r.rejectedByLease }),
    }),
  );
}

/** RequestVoteResponse from the wire; absent optional fields read as braft's defaults (false, 0). */
export function decodeVoteResponse(bytes: Uint8Array): RequestVoteResponse {
  const m = parseMessage(RequestVoteResponseSchema, bytes);
  return {
    term: toSafeNumber(m.term, "term"),
    granted: m.granted,
    rejectedByLease: m.rejectedByLease,
    disrupted: m.disrupted,
    previousTerm: toSafeNumber(m.previousTerm, "previous_term"),
  };
}

// ---- AppendEntries ----

function confFields(conf: ConfigurationData): {
  peers: string[];
  oldPeers: string[];
  learners: string[];
  oldLearners: string[];
} {
  return {
    peers: [...conf.peers],
    oldPeers: [...(conf.oldPeers ?? [])],
    learners: [...(conf.learners ?? [])],
    oldLearners: [...(conf.oldLearners ?? [])],
  };
}

/** AppendEntriesRequest: entry metas in the message, entry data as the attachment parts. */
export function encodeAppendEntriesRequest(r: AppendEntriesRequest): Encoded {
  const attachment: Uint8Array[] = [];
  for (const entry of r.entries) if (entry.data.length > 0) attachment.push(entry.data);
  return { message: encodeAppendEntriesMessage(r), attachment };
}

/** Decodes an AppendEntriesRequest, slicing each entry's data out of `attachment`. */
export function decodeAppendEntriesRequest(bytes: Uint8Array, attachment: Uint8Array): AppendEntriesRequest {
  return decodeAppendEntriesMessage(bytes, attachment, peerFromWire);
}

/** AppendEntriesResponse; last_log_index is always sent, as braft does on failures and heartbeats. */
export function encodeAppendEntriesResponse(r: AppendEntriesResponse): Uint8Array {
  return encodeAppendEntriesResponseMessage(r);
}

/** A missing last_log_index decodes as 0: the leader then probes from the start, which is safe. */
export function decodeAppendEntriesResponse(bytes: Uint8Array): AppendEntriesResponse {
  return decodeAppendEntriesResponseMessage(bytes);
}

// ---- TimeoutNow ----

/** TimeoutNowRequest; old_leader_stepped_down only when set. */
export function encodeTimeoutNowRequest(r: TimeoutNowRequest): Uint8Array {
  return toBinary(
    TimeoutNowRequestSchema,
    create(TimeoutNowRequestSchema, {
      groupId: r.groupId,
      serverId: r.serverId,
      peerId: r.peerId,
      term: big(r.term),
      ...(r.oldLeaderSteppedDown === true ? { oldLeaderSteppedDown: true } : {}),
    }),
  );
}

/** TimeoutNowRequest from the wire. */
export function decodeTimeoutNowRequest(bytes: Uint8Array): TimeoutNowRequest {
  const m = parseMessage(TimeoutNowRequestSchema, bytes);
  return {
    groupId: m.groupId,
    serverId: peerFromWire(m.serverId, "server_id"),
    peerId: peerFromWire(m.peerId, "peer_id"),
    term: toSafeNumber(m.term, "term"),
    ...(m.oldLeaderSteppedDown ? { oldLeaderSteppedDown: true } : {}),
  };
}

/** TimeoutNowResponse. */
export function encodeTimeoutNowResponse(r: TimeoutNowResponse): Uint8Array {
  return toBinary(
    TimeoutNowResponseSchema,
    create(TimeoutNowResponseSchema, { term: big(r.term), success: r.success }),
  );
}

/** TimeoutNowResponse from the wire. */
export function decodeTimeoutNowResponse(bytes: Uint8Array): TimeoutNowResponse {
  const m = parseMessage(TimeoutNowResponseSchema, bytes);
  return { term: toSafeNumber(m.term, "term"), success: m.success };
}

// ---- InstallSnapshot ----

function confFromWire(m: {
  peers: string[];
  oldPeers: string[];
  learners: string[];
  oldLearners: string[];
}): ConfigurationData {
  return {
    peers: peersFromWire(m.peers, "peer"),
    ...(m.oldPeers.length > 0 ? { oldPeers: peersFromWire(m.oldPeers, "old peer") } : {}),
    ...(m.learners.length > 0 ? { learners: peersFromWire(m.learners, "learner") } : {}),
    ...(m.oldLearners.length > 0 ? { oldLearners: peersFromWire(m.oldLearners, "old learner") } : {}),
  };
}

function snapshotMetaFromWire(m: SnapshotMeta): SnapshotMetaData {
  return {
    lastIncludedIndex: toSafeNumber(m.lastIncludedIndex, "last_included_index"),
    lastIncludedTerm: toSafeNumber(m.lastIncludedTerm, "last_included_term"),
    conf: confFromWire(m),
  };
}

/** InstallSnapshotRequest with its SnapshotMeta. */
export function encodeInstallSnapshotRequest(r: InstallSnapshotRequest): Uint8Array {
  return toBinary(
    InstallSnapshotRequestSchema,
    create(InstallSnapshotRequestSchema, {
      groupId: r.groupId,
      serverId: r.serverId,
      peerId: r.peerId,
      term: big(r.term),
      meta: {
        lastIncludedIndex: big(r.meta.lastIncludedIndex),
        lastIncludedTerm: big(r.meta.lastIncludedTerm),
        ...confFields(r.meta.conf),
      },
      uri: r.uri,
    }),
  );
}

/** InstallSnapshotRequest from the wire. */
export function decodeInstallSnapshotRequest(bytes: Uint8Array): InstallSnapshotRequest {
  const m = parseMessage(InstallSnapshotRequestSchema, bytes);
  return {
    groupId: m.groupId,
    serverId: peerFromWire(m.serverId, "server_id"),
    peerId: peerFromWire(m.peerId, "peer_id"),
    term: toSafeNumber(m.term, "term"),
    meta: snapshotMetaFromWire(m.meta as SnapshotMeta),
    uri: m.uri,
  };
}

/** InstallSnapshotResponse. */
export function encodeInstallSnapshotResponse(r: InstallSnapshotResponse): Uint8Array {
  return toBinary(
    InstallSnapshotResponseSchema,
    create(InstallSnapshotResponseSchema, { term: big(r.term), success: r.success }),
  );
}

/** InstallSnapshotResponse from the wire. */
export function decodeInstallSnapshotResponse(bytes: Uint8Array): InstallSnapshotResponse {
  const m = parseMessage(InstallSnapshotResponseSchema, bytes);
  return { term: toSafeNumber(m.term, "term"), success: m.success };
}
