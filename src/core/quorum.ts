/**
 * Quorum arithmetic for majority and joint configurations, as pure functions.
 *
 * One question answers commit, lease and check-quorum alike: given a value per voter, what is the
 * largest value that a quorum has reached? A joint configuration needs a quorum of each half.
 */
import type { PeerKey } from "./types.js";

/** The voters of a configuration; `old` is non-empty only while joint. */
export interface VoterSets {
  readonly current: readonly PeerKey[];
  readonly old: readonly PeerKey[];
}

/**
 * The largest v such that a majority of `voters` have value >= v.
 * An empty voter set places no constraint (+Infinity), so the joint form reduces to the simple one.
 */
export function majorityValue(voters: readonly PeerKey[], valueOf: (peer: PeerKey) => number): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  const quorumRank = Math.floor(voters.length / 2);
  return values[quorumRank] as number;
}

/** {@link majorityValue} across both halves of a (possibly joint) configuration. */
export function quorumValue(sets: VoterSets, valueOf: (peer: PeerKey) => number): number {
  return Math.min(majorityValue(sets.current, valueOf), majorityValue(sets.old, valueOf));
}

export type VoteResult = "won" | "lost" | "pending";

/** The outcome of an election in one voter set, given the answers received so far. */
export function majorityVoteResult(
  voters: readonly PeerKey[],
  answerOf: (peer: PeerKey) => boolean | undefined,
): VoteResult {
  if (voters.length === 0) return "won";
  let granted = 0;
  let rejected = 0;
  for (const voter of voters) {
    const answer = answerOf(voter);
    if (answer === true) granted++;
    else if (answer === false) rejected++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return "won";
  if (rejected > voters.length - quorum) return "lost";
  return "pending";
}

/** The election outcome in a (possibly joint) configuration: both halves must be won. */
export function quorumVoteResult(
  sets: VoterSets,
  answerOf: (peer: PeerKey) => boolean | undefined,
): VoteResult {
  const current = majorityVoteResult(sets.current, answerOf);
  const old = majorityVoteResult(sets.old, answerOf);
  if (current === "lost" || old === "lost") return "lost";
  if (current === "won" && old === "won") return "won";
  return "pending";
}

/** Whether `peer` votes in either half. */
export function isVoter(sets: VoterSets, peer: PeerKey): boolean {
  return sets.current.includes(peer) || sets.old.includes(peer);
}

/** Every voter of both halves, each once. */
export function allVoters(sets: VoterSets): PeerKey[] {
  return [...new Set([...sets.current, ...sets.old])];
}
