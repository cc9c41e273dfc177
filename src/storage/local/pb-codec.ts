/**
 * Encoders and decoders for the few protobuf messages braft keeps on disk (local_storage.proto,
 * raft.proto's SnapshotMeta, local_file_meta.proto). Field numbers are braft's, so files move
 * between braft and tsraft. Fields braft lacks (learners) use new numbers that braft skips as
 * unknown fields.
 */
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { canonicalOptionalPeer, canonicalPeerKeys, EMPTY_PEER_TEXT } from "../../util/peer-text.js";
import type { ConfigurationData, HardState } from "../../core/types.js";

/**
 * braft's ConfigurationPBMeta: peers=1, old_peers=2; learners=1000 and old_learners=1001 are ours
 * (far above braft's numbers, as on the wire, so a future braft field cannot collide).
 */
export function encodeConfiguration(conf: ConfigurationData): Uint8Array {
  const w = new BinaryWriter();
  writeStrings(w, 1, conf.peers);
  writeStrings(w, 2, conf.oldPeers);
  writeStrings(w, LEARNERS_FIELD, conf.learners);
  writeStrings(w, OLD_LEARNERS_FIELD, conf.oldLearners);
  return w.finish();
}

/**
 * Inverse of {@link encodeConfiguration}; absent optional sets stay undefined. Peers come back in
 * canonical form: braft writes `ip:port:idx:role` (PeerId::to_string), tsraft keys `ip:port:idx`.
 */
export function decodeConfiguration(bytes: Uint8Array): ConfigurationData {
  const lists: string[][] = [[], [], [], []];
  readFields(bytes, (r, field, wire) => {
    const list = lists[listSlot(field)];
    if (list === undefined || wire !== WireType.LengthDelimited) return false;
    list.push(r.string());
    return true;
  });
  const [peers = [], oldPeers = [], learners = [], oldLearners = []] = lists.map(canonicalPeerKeys);
  return {
    peers,
    ...(oldPeers.length > 0 ? { oldPeers } : {}),
    ...(learners.length > 0 ? { learners } : {}),
    ...(oldLearners.length > 0 ? { oldLearners } : {}),
  };
}

/** tsraft's learner fields in braft's configuration-carrying messages. */
export const LEARNERS_FIELD = 1000;
export const OLD_LEARNERS_FIELD = 1001;

/** Slot of a peer-list field: peers, old_peers, learners, old_learners. */
function listSlot(field: number): number {
  if (field === LEARNERS_FIELD) return 2;
  if (field === OLD_LEARNERS_FIELD) return 3;
  return field === 1 || field === 2 ? field - 1 : -1;
}

/** braft's LogPBMeta { required int64 first_log_index = 1; }. */
export function encodeLogMeta(firstLogIndex: number): Uint8Array {
  return new BinaryWriter().tag(1, WireType.Varint).int64(firstLogIndex).finish();
}

export function decodeLogMeta(bytes: Uint8Array): number {
  let first: number | undefined;
  readFields(bytes, (r, field, wire) => {
    if (field !== 1 || wire !== WireType.Varint) return false;
    first = toSafeNumber(r.int64());
    return true;
  });
  if (first === undefined) throw new Error("LogPBMeta lacks first_log_index");
  return first;
}

/**
 * braft's StablePBMeta { required int64 term = 1; required string votedfor = 2; }. No vote is
 * written as braft's empty PeerId: braft's load parses votedfor and refuses to start on "".
 */
export function encodeStableMeta(state: HardState): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(state.term);
  w.tag(2, WireType.LengthDelimited).string(state.votedFor === "" ? EMPTY_PEER_TEXT : state.votedFor);
  return w.finish();
}

export function decodeStableMeta(bytes: Uint8Array): HardState {
  let term: number | undefined;
  let votedFor: string | undefined;
  readFields(bytes, (r, field, wire) => {
    if (field === 1 && wire === WireType.Varint) term = toSafeNumber(r.int64());
    else if (field === 2 && wire === WireType.LengthDelimited) votedFor = r.string();
    else return false;
    return true;
  });
  if (term === undefined || votedFor === undefined) throw new Error("StablePBMeta lacks term or votedfor");
  return { term, votedFor: canonicalOptionalPeer(votedFor) };
}

/** Writes each string of `values` as a repeated string field. */
export function writeStrings(w: BinaryWriter, field: number, values: readonly string[] | undefined): void {
  for (const value of values ?? []) w.tag(field, WireType.LengthDelimited).string(value);
}

/**
 * Walks the fields of a message. `onField` reads the value and returns true, or returns false to
 * have the field skipped (unknown fields are legal protobuf and must not fail a read).
 */
export function readFields(
  bytes: Uint8Array,
  onField: (r: BinaryReader, field: number, wire: WireType) => boolean,
): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (!onField(r, field, wire)) r.skip(wire, field);
  }
  if (r.pos !== r.len) throw new Error("truncated protobuf message");
}

/** int64 values on disk are indexes and terms: they must fit in a JS safe integer. */
export function toSafeNumber(value: bigint | string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int64 value ${String(value)} is out of range`);
  return n;
}
