/**
 * braft's `__raft_snapshot_meta`: LocalSnapshotPbMeta { optional SnapshotMeta meta = 1;
 * repeated File files = 2; } with File { required string name = 1; optional LocalFileMeta meta = 2; }
 * and LocalFileMeta { optional bytes user_meta = 1; optional FileSource source = 2;
 * optional string checksum = 3; }. SnapshotMeta learners (1000, 1001) are tsraft's additions.
 */
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { canonicalPeerKeys } from "../../util/peer-text.js";
import type { SnapshotFileMeta, SnapshotMeta } from "../snapshot-storage.js";
import { LEARNERS_FIELD, OLD_LEARNERS_FIELD, readFields, toSafeNumber, writeStrings } from "./pb-codec.js";

/** The decoded meta file: the snapshot meta and its file list, in order. */
export interface SnapshotTable {
  readonly meta: SnapshotMeta | undefined;
  readonly files: ReadonlyMap<string, SnapshotFileMeta>;
}

export function encodeSnapshotTable(table: SnapshotTable): Uint8Array {
  const w = new BinaryWriter();
  if (table.meta !== undefined) w.tag(1, WireType.LengthDelimited).bytes(encodeSnapshotMeta(table.meta));
  for (const [name, meta] of table.files) {
    const file = new BinaryWriter().tag(1, WireType.LengthDelimited).string(name);
    if (meta !== undefined) file.tag(2, WireType.LengthDelimited).bytes(encodeFileMeta(meta));
    w.tag(2, WireType.LengthDelimited).bytes(file.finish());
  }
  return w.finish();
}

export function decodeSnapshotTable(bytes: Uint8Array): SnapshotTable {
  let meta: SnapshotMeta | undefined;
  const files = new Map<string, SnapshotFileMeta>();
  readFields(bytes, (r, field, wire) => {
    if (wire !== WireType.LengthDelimited) return false;
    if (field === 1) meta = decodeSnapshotMeta(r.bytes());
    else if (field === 2) {
      const [name, fileMeta] = decodeFile(r.bytes());
      files.set(name, fileMeta);
    } else return false;
    return true;
  });
  return { meta, files };
}

/** Slot of a SnapshotMeta peer-list field: peers=3, old_peers=4, then our learner fields. */
function snapshotListSlot(field: number): number {
  if (field === LEARNERS_FIELD) return 2;
  if (field === OLD_LEARNERS_FIELD) return 3;
  return field === 3 || field === 4 ? field - 3 : -1;
}

/** raft.proto's SnapshotMeta. */
export function encodeSnapshotMeta(meta: SnapshotMeta): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.Varint).int64(meta.lastIncludedIndex);
  w.tag(2, WireType.Varint).int64(meta.lastIncludedTerm);
  writeStrings(w, 3, meta.peers);
  writeStrings(w, 4, meta.oldPeers);
  writeStrings(w, LEARNERS_FIELD, meta.learners);
  writeStrings(w, OLD_LEARNERS_FIELD, meta.oldLearners);
  return w.finish();
}

/** Inverse of {@link encodeSnapshotMeta}; peers in canonical form whichever form braft wrote. */
export function decodeSnapshotMeta(bytes: Uint8Array): SnapshotMeta {
  let index: number | undefined;
  let term: number | undefined;
  const lists: string[][] = [[], [], [], []];
  readFields(bytes, (r, field, wire) => {
    if (field === 1 && wire === WireType.Varint) index = toSafeNumber(r.int64());
    else if (field === 2 && wire === WireType.Varint) term = toSafeNumber(r.int64());
    else if (wire === WireType.LengthDelimited && snapshotListSlot(field) >= 0)
      lists[snapshotListSlot(field)]!.push(r.string());
    else return false;
    return true;
  });
  if (index === undefined || term === undefined) throw new Error("SnapshotMeta lacks its index or term");
  const [peers = [], oldPeers = [], learners = [], oldLearners = []] = lists.map(canonicalPeerKeys);
  return {
    lastIncludedIndex: index,
    lastIncludedTerm: term,
    peers,
    ...(oldPeers.length > 0 ? { oldPeers } : {}),
    ...(learners.length > 0 ? { learners } : {}),
    ...(oldLearners.length > 0 ? { oldLearners } : {}),
  };
}

function encodeFileMeta(meta: SnapshotFileMeta): Uint8Array {
  const w = new BinaryWriter();
  if (meta.userMeta !== undefined) w.tag(1, WireType.LengthDelimited).bytes(meta.userMeta);
  if (meta.source !== undefined) w.tag(2, WireType.Varint).int32(meta.source === "reference" ? 1 : 0);
  if (meta.checksum !== undefined) w.tag(3, WireType.LengthDelimited).string(meta.checksum);
  return w.finish();
}

function decodeFile(bytes: Uint8Array): [string, SnapshotFileMeta] {
  let name: string | undefined;
  let meta: SnapshotFileMeta = {};
  readFields(bytes, (r, field, wire) => {
    if (field === 1 && wire === WireType.LengthDelimited) name = r.string();
    else if (field === 2 && wire === WireType.LengthDelimited) meta = decodeFileMeta(r.bytes());
    else return false;
    return true;
  });
  if (name === undefined) throw new Error("snapshot file entry lacks its name");
  return [name, meta];
}

function decodeFileMeta(bytes: Uint8Array): SnapshotFileMeta {
  const meta: { userMeta?: Uint8Array; source?: "local" | "reference"; checksum?: string } = {};
  readFields(bytes, (r, field, wire) => {
    if (field === 1 && wire === WireType.LengthDelimited) meta.userMeta = r.bytes().slice();
    else if (field === 2 && wire === WireType.Varint) meta.source = r.int32() === 1 ? "reference" : "local";
    else if (field === 3 && wire === WireType.LengthDelimited) meta.checksum = r.string();
    else return false;
    return true;
  });
  return meta;
}
