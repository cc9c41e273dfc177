/**
 * Configurations in the log (braft's ConfigurationManager): every configuration entry takes
 * effect when appended, not when committed, so a truncated suffix must bring the previous one back.
 */
import { invariant } from "./errors.js";
import type { VoterSets } from "./quorum.js";
import type { ConfigurationData, LogId, PeerKey } from "./types.js";

/** A configuration entry as kept in memory: where it sits in the log and what it says. */
export interface ConfigurationEntry {
  readonly id: LogId;
  readonly conf: ConfigurationData;
}

/** The voter sets of a configuration. */
export function voterSets(conf: ConfigurationData): VoterSets {
  return { current: conf.peers, old: conf.oldPeers ?? [] };
}

/** True while the configuration is joint (an old peer set is present). */
export function isJoint(conf: ConfigurationData): boolean {
  return conf.oldPeers !== undefined && conf.oldPeers.length > 0;
}

/** Every peer that receives log entries: voters of both halves and learners. */
export function replicationTargets(conf: ConfigurationData): PeerKey[] {
  const all = [
    ...conf.peers,
    ...(conf.oldPeers ?? []),
    ...(conf.learners ?? []),
    ...(conf.oldLearners ?? []),
  ];
  return [...new Set(all)];
}

/** Normalizes a configuration: sorted, duplicates removed, empty optional sets dropped. */
export function normalizeConfiguration(conf: ConfigurationData): ConfigurationData {
  const sorted = (peers: readonly PeerKey[] | undefined): PeerKey[] => [...new Set(peers ?? [])].sort();
  const result: { -readonly [K in keyof ConfigurationData]: ConfigurationData[K] } = {
    peers: sorted(conf.peers),
  };
  if (conf.oldPeers !== undefined && conf.oldPeers.length > 0) result.oldPeers = sorted(conf.oldPeers);
  if (conf.learners !== undefined && conf.learners.length > 0) result.learners = sorted(conf.learners);
  if (conf.oldLearners !== undefined && conf.oldLearners.length > 0)
    result.oldLearners = sorted(conf.oldLearners);
  return result;
}

/** Tracks the configuration entries of the log, oldest first. */
export class ConfigurationManager {
  private readonly entries: ConfigurationEntry[] = [];
  /** The configuration in force before the first tracked entry (from a snapshot or the initial conf). */
  private base: ConfigurationEntry;

  constructor(base: ConfigurationEntry) {
    this.base = base;
  }

  /** Records a configuration entry appended at the end of the log. */
  add(entry: ConfigurationEntry): void {
    const last = this.last();
    invariant(
      entry.id.index > last.id.index,
      () => `configuration at ${entry.id.index} is not after ${last.id.index}`,
    );
    this.entries.push(entry);
  }

  /** Forgets entries after `lastIndexKept`, because the log suffix holding them was truncated. */
  truncateSuffix(lastIndexKept: number): void {
    while (this.entries.length > 0 && (this.entries.at(-1) as ConfigurationEntry).id.index > lastIndexKept) {
      this.entries.pop();
    }
  }

  /**
   * A snapshot now covers the log through `base.id.index`: its configuration replaces every
   * entry up to there; later entries stay.
   */
  setSnapshot(base: ConfigurationEntry): void {
    while (this.entries.length > 0 && (this.entries[0] as ConfigurationEntry).id.index <= base.id.index) {
      this.entries.shift();
    }
    this.base = base;
  }

  /**
   * braft's reset_peers: this node alone now takes `conf` as its configuration, in force until a
   * later entry of the log replaces it (its first leader writes it to the log).
   */
  override(conf: ConfigurationData): void {
    const last = this.last();
    this.entries.length = 0;
    this.base = { id: last.id, conf };
  }

  /** Replaces everything with one configuration, e.g. the one a snapshot carries. */
  reset(base: ConfigurationEntry): void {
    this.entries.length = 0;
    this.base = base;
  }

  /** The configuration in force after the whole log: the latest entry. */
  last(): ConfigurationEntry {
    return this.entries.at(-1) ?? this.base;
  }

  /** The configuration in force at log position `index`. */
  at(index: number): ConfigurationEntry {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i] as ConfigurationEntry;
      if (entry.id.index <= index) return entry;
    }
    return this.base;
  }
}
