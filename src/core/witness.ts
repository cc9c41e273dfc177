/**
 * Witnesses (braft's NodeOptions::witness and raft_enable_witness_to_leader): a witness votes and
 * acknowledges entries like any voter, so a 2+1 group survives the loss of a full replica, but it
 * keeps no state machine. Without the flag it never campaigns and leaders send it entries
 * without their data; with the flag it gets the data and campaigns after twice the election
 * timeout (so a full replica wins first whenever one can), and once it leads it only hands
 * leadership to an up-to-date full replica (transfer.ts `handOverIfWitness`).
 *
 * These are the rules over the config alone; the protocol modules call them where they decide.
 */
import type { CoreConfig } from "./config.js";
import { EMPTY_DATA, EntryType, type LogEntry, type PeerKey } from "./types.js";

/** A witness leads only with raft_enable_witness_to_leader; a full replica always may. */
export function mayCampaign(config: Readonly<CoreConfig>): boolean {
  return config.witness !== true || config.witnessToLeader === true;
}

/** braft doubles a witness's election timer, so a full replica times out and wins first. */
export function electionTimerMs(config: Readonly<CoreConfig>): number {
  return config.witness === true ? 2 * config.electionTimeoutMs : config.electionTimeoutMs;
}

/** Whether `peer` is a witness of the configuration (braft's PeerId::is_witness). */
export function isWitnessPeer(config: Readonly<CoreConfig>, peer: PeerKey): boolean {
  return config.isWitnessPeer?.(peer) === true;
}

/** Whether `peer` may campaign, as {@link mayCampaign} says of this node (the flag is the cluster's). */
export function peerMayCampaign(config: Readonly<CoreConfig>, peer: PeerKey): boolean {
  return !isWitnessPeer(config, peer) || config.witnessToLeader === true;
}

/**
 * What a leader sends `peer`: a witness gets DATA entries without their data unless witnesses
 * may lead (braft's Replicator::_prepare_entry), since it never applies them. Terms, types and
 * configurations go as they are: the witness votes and counts quorums with them.
 */
export function entriesForPeer(
  config: Readonly<CoreConfig>,
  peer: PeerKey,
  entries: readonly LogEntry[],
): readonly LogEntry[] {
  if (config.witnessToLeader === true || !isWitnessPeer(config, peer)) return entries;
  return entries.map((entry) =>
    entry.type === EntryType.DATA && entry.data.length > 0 ? { ...entry, data: EMPTY_DATA } : entry,
  );
}
