/**
 * The core's invariants, asserted at every input and output (etcd's `Panicf`, TigerBeetle's
 * assert density). A broken one throws {@link InvariantError}; the shell turns that into braft's
 * ERROR state, because a node whose state contradicts Raft must stop voting and replicating
 * before it spreads the damage.
 *
 * Cost is the point: every check here is O(peers) per input, plus O(entries) for the entries an
 * input carries or a Ready hands out. Nothing walks the log. Monotonic facts (term, vote,
 * commit) are compared with what the previous check saw, kept per core in a WeakMap so the
 * core's fields stay its own.
 */
import { replicationTargets } from "./configuration.js";
import { invariant } from "./errors.js";
import type { Ready, Send } from "./events.js";
import type { AppendEntriesRequest } from "./messages.js";
import { leaderOf, type CoreState, type LeaderState } from "./core-state.js";
import type { LogEntry, PeerKey } from "./types.js";

/** What the previous check saw: the facts that may only move forward. */
interface Watermark {
  readonly term: number;
  readonly votedFor: PeerKey;
  readonly commitIndex: number;
  /** Term of the entry at `commitIndex` when it was seen (a committed entry never changes). */
  readonly commitTerm: number | undefined;
  readonly appliedIndex: number;
  /** Last index while leading `term` (a leader never truncates its own log); -1 when not leading. */
  readonly leaderLastIndex: number;
}

const watermarks = new WeakMap<CoreState, Watermark>();

/**
 * Asserts every invariant of `core` that holds between inputs. Called after each input method
 * of CoreState and from `takeReady`. A core in ERROR or shut down is not checked: nothing it holds
 * is used any more, and its state may be the very one that failed a check.
 */
export function checkInvariants(core: CoreState): void {
  if (!core.isActive()) return;
  checkIndexes(core);
  checkRole(core);
  if (core.role === "leader") checkProgress(core);
  checkMonotonic(core);
}

/** Asserts what a Ready hands the shell: durable state that matches the core, well-formed messages. */
export function checkReady(core: CoreState, ready: Ready): void {
  const hardState = ready.hardState;
  if (hardState !== undefined) {
    invariant(
      hardState.term === core.term && hardState.votedFor === core.votedFor,
      () =>
        `hard state to persist (term ${hardState.term}, vote "${hardState.votedFor}") ` +
        `differs from the core's (term ${core.term}, vote "${core.votedFor}")`,
    );
  }
  if (ready.entries.length > 0) checkEntriesToPersist(core, ready.entries);
  for (const send of ready.sendsNow) checkSend(core, send);
  for (const send of ready.sendsAfterPersist) checkSend(core, send);
}

/**
 * Asserts that an AppendEntries request is well formed before its entries touch the log: they
 * follow `prevLogIndex` one by one, and their terms never decrease, start at or after
 * `prevLogTerm` and never pass the request's term. A leader that sends anything else is broken,
 * and accepting its entries would break this node's log too.
 */
export function assertAppendWellFormed(request: AppendEntriesRequest): void {
  const from = request.serverId;
  invariant(
    request.prevLogIndex >= 0 && request.committedIndex >= 0,
    () =>
      `append from ${from}: negative prevLogIndex ${request.prevLogIndex} or committedIndex ${request.committedIndex}`,
  );
  checkEntryRun(
    request.entries,
    request.prevLogIndex,
    request.prevLogTerm,
    request.term,
    `append from ${from}`,
  );
}

// ---- checks between inputs -----------------------------------------------------------------

/** applied <= commit <= last, persisted <= last, and no entry newer than the current term. */
function checkIndexes(core: CoreState): void {
  const last = core.log.lastLogId();
  invariant(
    core.appliedIndex <= core.commitIndex,
    () => `applied ${core.appliedIndex} beyond committed ${core.commitIndex}`,
  );
  invariant(
    core.commitIndex <= last.index,
    () => `committed ${core.commitIndex} beyond last index ${last.index}`,
  );
  invariant(
    core.persistedIndex <= last.index,
    () => `persisted ${core.persistedIndex} beyond last index ${last.index}`,
  );
  invariant(
    last.term <= core.term,
    () => `last entry's term ${last.term} is newer than the term ${core.term}`,
  );
}

/** The role agrees with the leader, the vote and the leader-only state. */
function checkRole(core: CoreState): void {
  const self = core.config.self;
  const leading = core.role === "leader";
  invariant(
    leading === (core.leaderId === self),
    () => `role ${core.role} with leader "${core.leaderId}" (self ${self})`,
  );
  if (leading || core.role === "candidate") {
    invariant(core.votedFor === self, () => `${core.role} of term ${core.term} voted for "${core.votedFor}"`);
  }
  if (core.role === "candidate")
    invariant(core.leaderId === "", () => `candidate follows "${core.leaderId}"`);
  // Only a leader holds progress, a change or a transfer: RoleState gives them no other place.
}

/** Per follower: match < next <= last + 1, and progress only for members (or joining peers). */
function checkProgress(core: CoreState): void {
  const last = core.log.lastIndex();
  const leader = leaderOf(core);
  if (leader === undefined) return;
  const members = progressMembers(core, leader);
  for (const [peer, progress] of leader.progress) {
    const { matchIndex, nextIndex } = progress;
    invariant(peer !== core.config.self, "the leader keeps progress for itself");
    invariant(members.has(peer), () => `progress for ${peer}, which is not a member`);
    invariant(
      matchIndex >= 0 && matchIndex < nextIndex && nextIndex <= last + 1,
      () => `progress of ${peer}: match ${matchIndex}, next ${nextIndex}, last ${last}`,
    );
    invariant(
      progress.inflight >= 0 && progress.inflight <= core.config.inflightAppendsMax,
      () => `progress of ${peer}: ${progress.inflight} appends in flight`,
    );
  }
}

/**
 * The peers a leader may track: its configuration, and during a change also the target and the
 * configuration in force at the commit point (peers being removed stay until the change ends).
 */
function progressMembers(core: CoreState, leader: LeaderState): Set<PeerKey> {
  const members = new Set(replicationTargets(core.confs.last().conf));
  if (leader.change !== undefined) {
    for (const peer of replicationTargets(leader.change.target)) members.add(peer);
    for (const peer of replicationTargets(core.confs.at(core.commitIndex).conf)) members.add(peer);
  }
  return members;
}

/** Term, vote, commit and applied only move forward; committed entries and a leader's log stay. */
function checkMonotonic(core: CoreState): void {
  const seen = watermarks.get(core);
  const lastIndex = core.log.lastIndex();
  if (seen !== undefined) {
    invariant(core.term >= seen.term, () => `term went back from ${seen.term} to ${core.term}`);
    if (core.term === seen.term && seen.votedFor !== "") {
      invariant(
        core.votedFor === seen.votedFor,
        () => `vote in term ${core.term} changed: "${seen.votedFor}" became "${core.votedFor}"`,
      );
    }
    invariant(
      core.commitIndex >= seen.commitIndex,
      () => `commit went back from ${seen.commitIndex} to ${core.commitIndex}`,
    );
    invariant(
      core.appliedIndex >= seen.appliedIndex,
      () => `applied went back from ${seen.appliedIndex} to ${core.appliedIndex}`,
    );
    const termNow = core.log.term(seen.commitIndex); // undefined once compacted into a snapshot
    invariant(
      seen.commitTerm === undefined || termNow === undefined || termNow === seen.commitTerm,
      () => `committed entry ${seen.commitIndex} changed term from ${seen.commitTerm} to ${termNow}`,
    );
    if (core.role === "leader" && core.term === seen.term && seen.leaderLastIndex >= 0) {
      invariant(
        lastIndex >= seen.leaderLastIndex,
        () => `leader of term ${core.term} truncated its log from ${seen.leaderLastIndex} to ${lastIndex}`,
      );
    }
  }
  watermarks.set(core, {
    term: core.term,
    votedFor: core.votedFor,
    commitIndex: core.commitIndex,
    commitTerm: core.log.term(core.commitIndex),
    appliedIndex: core.appliedIndex,
    leaderLastIndex: core.role === "leader" ? lastIndex : -1,
  });
}

// ---- checks of outputs ---------------------------------------------------------------------

/** Entries to persist are a contiguous run that continues the log below them. */
function checkEntriesToPersist(core: CoreState, entries: readonly LogEntry[]): void {
  const first = entries[0] as LogEntry;
  const prevTerm = core.log.term(first.index - 1) ?? 0; // 0 when the entry before was compacted
  checkEntryRun(entries, first.index - 1, prevTerm, core.term, "entries to persist");
  const last = entries[entries.length - 1] as LogEntry;
  invariant(
    core.log.term(last.index) === last.term,
    () => `entry ${last.index} to persist has term ${last.term}, the log holds ${core.log.term(last.index)}`,
  );
}

/** A request leaving this core carries no term beyond ours; appends are well formed. */
function checkSend(core: CoreState, send: Send): void {
  const { message } = send;
  // A pre-vote asks for term + 1 without taking it.
  const termMax = message.kind === "vote" && message.request.preVote ? core.term + 1 : core.term;
  invariant(
    message.request.term <= termMax,
    () => `${message.kind} to ${message.to} carries term ${message.request.term} beyond ${termMax}`,
  );
  if (message.kind !== "append") return;
  const { request } = message;
  checkEntryRun(
    request.entries,
    request.prevLogIndex,
    request.prevLogTerm,
    request.term,
    `append to ${message.to}`,
  );
  invariant(
    request.committedIndex <= core.commitIndex,
    () => `append to ${message.to} claims commit ${request.committedIndex} beyond ${core.commitIndex}`,
  );
}

/**
 * `entries` follow (prevIndex, prevTerm): indexes +1 each, terms non-decreasing from prevTerm,
 * none above `termMax`.
 */
function checkEntryRun(
  entries: readonly LogEntry[],
  prevIndex: number,
  prevTerm: number,
  termMax: number,
  what: string,
): void {
  let index = prevIndex;
  let term = prevTerm;
  for (const entry of entries) {
    invariant(entry.index === index + 1, () => `${what}: entry ${entry.index} follows ${index}`);
    invariant(
      entry.term >= term && entry.term <= termMax,
      () => `${what}: entry ${entry.index} has term ${entry.term} after term ${term} (term limit ${termMax})`,
    );
    index = entry.index;
    term = entry.term;
  }
}
