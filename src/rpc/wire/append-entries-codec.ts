/**
 * braft's AppendEntriesRequest/Response (raft.proto), by hand: with heartbeats and log
 * replication they are nearly every frame between peers. The semantics are codec.ts's (entry
 * data in the attachment, entry i at prev_log_index + 1 + i, PeerIds canonicalized, int64 as
 * numbers); only the protobuf work is done here instead of through protobuf-es.
 */
import type { AppendEntriesRequest, AppendEntriesResponse } from "../../core/messages.js";
import { EMPTY_DATA, EntryType, type ConfigurationData, type LogEntry } from "../../core/types.js";
import { ProtoParseError } from "../proto-util.js";
import { ProtoReader, ProtoWriter, WireType, delimitedSize, tagSize, varintSize } from "./proto-wire.js";

/** Canonicalizes a PeerId read from the wire (codec.ts's peerFromWire). */
export type PeerCanonicalizer = (text: string, what: string) => string;

const ENTRY_META_FIELDS = new Set([1, 2, 3, 4, 5, 1000, 1001]);
const REQUEST_FIELDS = new Set([1, 2, 3, 4, 5, 6, 7, 8]);
const RESPONSE_FIELDS = new Set([1, 2, 3, 4]);
const LEN = WireType.LENGTH_DELIMITED;
const VARINT = WireType.VARINT;

// ---- encode ----

function stringsSize(field: number, values: readonly string[] | undefined): number {
  let size = 0;
  for (const value of values ?? []) size += delimitedSize(field, Buffer.byteLength(value));
  return size;
}

function writeStrings(w: ProtoWriter, field: number, values: readonly string[] | undefined): void {
  for (const value of values ?? []) w.stringField(field, value, Buffer.byteLength(value));
}

function entryMetaSize(entry: LogEntry): number {
  let size = tagSize(1) + varintSize(entry.term) + tagSize(2) + varintSize(entry.type);
  size += tagSize(4) + varintSize(entry.data.length);
  const conf = entry.conf;
  if (conf !== undefined) {
    size += stringsSize(3, conf.peers) + stringsSize(5, conf.oldPeers);
    size += stringsSize(1000, conf.learners) + stringsSize(1001, conf.oldLearners);
  }
  return size;
}

function writeEntryMeta(w: ProtoWriter, entry: LogEntry, size: number): void {
  w.messageHeader(7, size);
  w.varintField(1, entry.term);
  w.varintField(2, entry.type);
  const conf = entry.conf;
  writeStrings(w, 3, conf?.peers);
  w.varintField(4, entry.data.length);
  writeStrings(w, 5, conf?.oldPeers);
  writeStrings(w, 1000, conf?.learners);
  writeStrings(w, 1001, conf?.oldLearners);
}

/** The request's protobuf message (entry metas); entry data travel in the attachment. */
export function encodeAppendEntriesMessage(r: AppendEntriesRequest): Buffer {
  const groupBytes = Buffer.byteLength(r.groupId);
  const serverBytes = Buffer.byteLength(r.serverId);
  const peerBytes = Buffer.byteLength(r.peerId);
  let size = delimitedSize(1, groupBytes) + delimitedSize(2, serverBytes) + delimitedSize(3, peerBytes);
  size += tagSize(4) + varintSize(r.term) + tagSize(5) + varintSize(r.prevLogTerm);
  size += tagSize(6) + varintSize(r.prevLogIndex) + tagSize(8) + varintSize(r.committedIndex);
  const entrySizes = r.entries.length === 0 ? undefined : r.entries.map(entryMetaSize);
  if (entrySizes !== undefined) for (const s of entrySizes) size += delimitedSize(7, s);
  const w = new ProtoWriter(size);
  w.stringField(1, r.groupId, groupBytes);
  w.stringField(2, r.serverId, serverBytes);
  w.stringField(3, r.peerId, peerBytes);
  w.varintField(4, r.term);
  w.varintField(5, r.prevLogTerm);
  w.varintField(6, r.prevLogIndex);
  r.entries.forEach((entry, i) => writeEntryMeta(w, entry, entrySizes?.[i] ?? 0));
  w.varintField(8, r.committedIndex);
  return w.finish();
}

/** last_log_index is always sent, as braft does on failures and heartbeats. */
export function encodeAppendEntriesResponseMessage(r: AppendEntriesResponse): Buffer {
  let size = tagSize(1) + varintSize(r.term) + tagSize(2) + 1 + tagSize(3) + varintSize(r.lastLogIndex);
  if (r.readonly !== undefined) size += tagSize(4) + 1;
  const w = new ProtoWriter(size);
  w.varintField(1, r.term);
  w.varintField(2, r.success ? 1 : 0);
  w.varintField(3, r.lastLogIndex);
  if (r.readonly !== undefined) w.varintField(4, r.readonly ? 1 : 0);
  return w.finish();
}

// ---- decode ----

interface EntryMetaFields {
  term: number | undefined;
  type: number | undefined;
  dataLen: number;
  peers: string[] | undefined;
  oldPeers: string[] | undefined;
  learners: string[] | undefined;
  oldLearners: string[] | undefined;
}

function push(list: string[] | undefined, value: string): string[] {
  if (list === undefined) return [value];
  list.push(value);
  return list;
}

function decodeEntryMeta(r: ProtoReader): EntryMetaFields {
  const m: EntryMetaFields = {
    term: undefined,
    type: undefined,
    dataLen: 0,
    peers: undefined,
    oldPeers: undefined,
    learners: undefined,
    oldLearners: undefined,
  };
  while (!r.done) {
    const tag = r.tag();
    switch (tag) {
      case (1 << 3) | VARINT:
        m.term = r.int64();
        break;
      case (2 << 3) | VARINT:
        m.type = r.int32();
        break;
      case (3 << 3) | LEN:
        m.peers = push(m.peers, r.string());
        break;
      case (4 << 3) | VARINT:
        m.dataLen = r.int64();
        break;
      case (5 << 3) | LEN:
        m.oldPeers = push(m.oldPeers, r.string());
        break;
      case (1000 << 3) | LEN:
        m.learners = push(m.learners, r.string());
        break;
      case (1001 << 3) | LEN:
        m.oldLearners = push(m.oldLearners, r.string());
        break;
      default:
        r.skipOther(tag, ENTRY_META_FIELDS);
    }
  }
  if (m.term === undefined) r.fail("missing required field braft.EntryMeta.term");
  if (m.type === undefined) r.fail("missing required field braft.EntryMeta.type");
  return m;
}

function confOf(m: EntryMetaFields, canonical: PeerCanonicalizer): ConfigurationData {
  const list = (values: string[] | undefined, what: string) => (values ?? []).map((v) => canonical(v, what));
  return {
    peers: list(m.peers, "peer"),
    ...(m.oldPeers === undefined ? {} : { oldPeers: list(m.oldPeers, "old peer") }),
    ...(m.learners === undefined ? {} : { learners: list(m.learners, "learner") }),
    ...(m.oldLearners === undefined ? {} : { oldLearners: list(m.oldLearners, "old learner") }),
  };
}

function entryOf(
  m: EntryMetaFields,
  index: number,
  data: Uint8Array,
  canonical: PeerCanonicalizer,
): LogEntry {
  const type = m.type as number;
  const known = type === EntryType.NO_OP || type === EntryType.DATA || type === EntryType.CONFIGURATION;
  return {
    index,
    term: m.term as number,
    // braft skips entries of unknown type but still counts their index; the core sees UNKNOWN.
    type: known ? (type as EntryType) : EntryType.UNKNOWN,
    data,
    ...(type === EntryType.CONFIGURATION ? { conf: confOf(m, canonical) } : {}),
  };
}

/** Decodes a request, slicing each entry's data out of `attachment` (views, no copies). */
export function decodeAppendEntriesMessage(
  bytes: Uint8Array,
  attachment: Uint8Array,
  canonical: PeerCanonicalizer,
): AppendEntriesRequest {
  const r = new ProtoReader(bytes, "braft.AppendEntriesRequest");
  let groupId: string | undefined;
  let serverId: string | undefined;
  let peerId: string | undefined;
  let term: number | undefined;
  let prevLogTerm: number | undefined;
  let prevLogIndex: number | undefined;
  let committedIndex: number | undefined;
  const metas: EntryMetaFields[] = [];
  while (!r.done) {
    const tag = r.tag();
    switch (tag) {
      case (1 << 3) | LEN:
        groupId = r.string();
        break;
      case (2 << 3) | LEN:
        serverId = r.string();
        break;
      case (3 << 3) | LEN:
        peerId = r.string();
        break;
      case (4 << 3) | VARINT:
        term = r.int64();
        break;
      case (5 << 3) | VARINT:
        prevLogTerm = r.int64();
        break;
      case (6 << 3) | VARINT:
        prevLogIndex = r.int64();
        break;
      case (7 << 3) | LEN:
        metas.push(decodeEntryMeta(r.sub(r.messageEnd(), "braft.EntryMeta")));
        break;
      case (8 << 3) | VARINT:
        committedIndex = r.int64();
        break;
      default:
        r.skipOther(tag, REQUEST_FIELDS);
    }
  }
  const missing = (name: string): never =>
    r.fail(`missing required field braft.AppendEntriesRequest.${name}`);
  if (groupId === undefined) return missing("group_id");
  if (serverId === undefined) return missing("server_id");
  if (peerId === undefined) return missing("peer_id");
  if (term === undefined) return missing("term");
  if (prevLogTerm === undefined) return missing("prev_log_term");
  if (prevLogIndex === undefined) return missing("prev_log_index");
  if (committedIndex === undefined) return missing("committed_index");
  const entries: LogEntry[] = [];
  let offset = 0;
  for (let i = 0; i < metas.length; i++) {
    const meta = metas[i] as EntryMetaFields;
    const dataLen = meta.dataLen;
    if (dataLen < 0 || offset + dataLen > attachment.length) {
      throw new ProtoParseError(
        `entry data_len ${dataLen} overruns the ${attachment.length}-byte attachment`,
      );
    }
    const data = dataLen === 0 ? EMPTY_DATA : attachment.subarray(offset, offset + dataLen);
    offset += dataLen;
    entries.push(entryOf(meta, prevLogIndex + 1 + i, data, canonical));
  }
  return {
    groupId,
    serverId: canonical(serverId, "server_id"),
    peerId: canonical(peerId, "peer_id"),
    term,
    prevLogTerm,
    prevLogIndex,
    entries,
    committedIndex,
  };
}

/** A missing last_log_index decodes as 0: the leader then probes from the start, which is safe. */
export function decodeAppendEntriesResponseMessage(bytes: Uint8Array): AppendEntriesResponse {
  const r = new ProtoReader(bytes, "braft.AppendEntriesResponse");
  let term: number | undefined;
  let success: boolean | undefined;
  let lastLogIndex = 0;
  let readonly = false;
  while (!r.done) {
    const tag = r.tag();
    switch (tag) {
      case (1 << 3) | VARINT:
        term = r.int64();
        break;
      case (2 << 3) | VARINT:
        success = r.bool();
        break;
      case (3 << 3) | VARINT:
        lastLogIndex = r.int64();
        break;
      case (4 << 3) | VARINT:
        readonly = r.bool();
        break;
      default:
        r.skipOther(tag, RESPONSE_FIELDS);
    }
  }
  if (term === undefined) return r.fail("missing required field braft.AppendEntriesResponse.term");
  if (success === undefined) return r.fail("missing required field braft.AppendEntriesResponse.success");
  return { term, success, lastLogIndex, readonly };
}
