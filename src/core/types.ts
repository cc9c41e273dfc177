/** Plain data shared by the core and every layer above it. */

/** braft's EntryType (enum.proto). */
export const EntryType = {
  UNKNOWN: 0,
  NO_OP: 1,
  DATA: 2,
  CONFIGURATION: 3,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** A peer as the core sees it: the canonical `ip:port:idx` string of a PeerId. */
export type PeerKey = string;

/** The peer sets a configuration entry carries (braft's EntryMeta peers/old_peers, plus learners). */
export interface ConfigurationData {
  readonly peers: readonly PeerKey[];
  /** Set only in a joint configuration: the configuration being left. */
  readonly oldPeers?: readonly PeerKey[] | undefined;
  readonly learners?: readonly PeerKey[] | undefined;
  readonly oldLearners?: readonly PeerKey[] | undefined;
}

/** One log entry. `data` is empty for NO_OP and CONFIGURATION entries. */
export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
  /** Present iff type is CONFIGURATION. */
  readonly conf?: ConfigurationData | undefined;
}

/** (index, term) of a log position; braft's LogId. */
export interface LogId {
  readonly index: number;
  readonly term: number;
}

/** What RaftMetaStorage persists: the current term and the vote cast in it. */
export interface HardState {
  readonly term: number;
  /** The peer voted for in `term`, or "" for none (braft's empty PeerId). */
  readonly votedFor: PeerKey;
}

/** The roles of a node (braft's State). */
export type Role = "leader" | "candidate" | "preCandidate" | "follower" | "error" | "shutdown";

export const EMPTY_DATA: Uint8Array = new Uint8Array(0);

/** braft compares log ids by term first, then index. */
export function compareLogId(a: LogId, b: LogId): number {
  if (a.term !== b.term) return a.term < b.term ? -1 : 1;
  if (a.index !== b.index) return a.index < b.index ? -1 : 1;
  return 0;
}
