/**
 * Safety checkers for simulated clusters. Each records a violation instead of throwing, so a run
 * reports every broken property with the seed that reproduces it.
 *
 * - at most one leader per term (from the AppendEntries every leader sends);
 * - log matching: two logs with an entry of the same index and term agree up to it;
 * - state machine safety: every state machine applies a prefix of one sequence, so no committed
 *   entry is ever lost or changed;
 * - every apply acknowledged OK is in that sequence at the index it was acknowledged with.
 *
 * The checks are incremental (each observation costs about what it observes), so the simulator
 * can run them after every event of the scheduler.
 */
import { EntryType, type LogEntry, type PeerKey } from "../core/types.js";

/** Entries longer than this are compared by a digest (their head, length and a sampled hash). */
const DIGEST_FROM_BYTES = 1024;
/** The key of a DATA entry seen only in witness logs so far, without its data. */
const STRIPPED = "\u0000stripped";

/** A comparable form of entry data. */
export function dataKey(data: Uint8Array): string {
  if (data.length > DIGEST_FROM_BYTES) return digestKey(data);
  // latin1 maps each byte to the char of the same code, in one flat string: building it a char
  // at a time made a rope of one node per byte.
  return Buffer.from(data.buffer, data.byteOffset, data.length).toString("latin1");
}

/**
 * Large entries (up to a few MiB) are compared by their first 64 bytes, their length and an
 * FNV-1a hash of every 61st byte and of the last 64: building a string of a whole MiB for every
 * apply on every node would dominate a run, and the simulator's large entries differ in their head.
 */
function digestKey(data: Uint8Array): string {
  let hash = 0x811c9dc5;
  const mix = (byte: number): void => {
    hash = Math.imul(hash ^ byte, 0x01000193);
  };
  for (let i = 0; i < data.length; i += 61) mix(data[i] ?? 0);
  for (let i = Math.max(0, data.length - 64); i < data.length; i++) mix(data[i] ?? 0);
  return `${dataKey(data.subarray(0, 64))}#${data.length}#${(hash >>> 0).toString(16)}`;
}

interface AppliedEntry {
  readonly term: number;
  readonly key: string;
}

interface NodeApplies {
  /** Indexes this incarnation's state machine applied, in order. */
  readonly indexes: number[];
  /** The same, as a set, for the gap checks. */
  readonly set: Set<number>;
}

/** What the first durable copy of an (index, term) held; every other copy must agree. */
interface DurableEntry {
  key: string;
  readonly type: number;
  /** The term of the entry before it in that log (undefined: compacted there). */
  prevTerm: number | undefined;
}

export class SafetyChecker {
  readonly violations: string[] = [];
  /** Prefixes every violation (e.g. `group sim3`), so a cluster of many groups names the group. */
  constructor(private readonly label = "") {}

  private readonly leaderOfTerm = new Map<number, PeerKey>();
  /** The one sequence of applied DATA entries, by index (committed entries). */
  private readonly sequence = new Map<number, AppliedEntry>();
  private readonly nodes = new Map<PeerKey, NodeApplies>();
  private readonly acked = new Map<number, string>();
  /** Every (index, term) seen in a durable log: the incremental log matching check. */
  private readonly durable = new Map<string, DurableEntry>();
  /** The highest index acknowledged to any client so far. */
  private ackedMax = 0;
  /** Reads that were served: a linearizable read sees every write acknowledged before it began. */
  readsServed = 0;
  /** Witnesses: their logs may hold DATA entries without data (leaders strip it for them). */
  private readonly witnesses = new Set<PeerKey>();

  /** `node` is a witness: an empty DATA entry in its log matches any data. */
  markWitness(node: PeerKey): void {
    this.witnesses.add(node);
  }

  isWitness(node: PeerKey): boolean {
    return this.witnesses.has(node);
  }

  get appliedCount(): number {
    return this.sequence.size;
  }

  get ackedCount(): number {
    return this.acked.size;
  }

  /** `leader` sent AppendEntries in `term`: it claims leadership of that term. */
  observeLeader(term: number, leader: PeerKey): void {
    const known = this.leaderOfTerm.get(term);
    if (known === undefined) this.leaderOfTerm.set(term, leader);
    else if (known !== leader) this.violate(`two leaders in term ${term}: ${known} and ${leader}`);
  }

  /** A node's state machine starts from scratch (a restart replays the log). */
  nodeStarted(node: PeerKey): void {
    this.nodes.set(node, { indexes: [], set: new Set() });
  }

  /**
   * Log matching, incrementally: `entries` became durable in `node`'s log right after an entry of
   * term `prevTerm`. Two copies of one (index, term) must hold the same data and follow entries
   * of the same term; by induction, two logs agreeing on an (index, term) agree on all before it.
   */
  observeDurableAppend(node: PeerKey, entries: readonly LogEntry[], prevTerm: number | undefined): void {
    let before = prevTerm;
    for (const entry of entries) {
      const id = `${entry.index}:${entry.term}`;
      const key = dataKey(entry.data);
      const known = this.durable.get(id);
      const stripped = this.witnesses.has(node) && entry.type === EntryType.DATA && entry.data.length === 0;
      if (known === undefined)
        this.durable.set(id, { key: stripped ? STRIPPED : key, type: entry.type, prevTerm: before });
      else {
        if (known.key === STRIPPED && !stripped) known.key = key; // the first full copy sets the data
        if ((known.key !== key && !stripped && known.key !== STRIPPED) || known.type !== entry.type)
          this.violate(
            `log matching: entry ${entry.index} of term ${entry.term} holds different data on ${node}`,
          );
        if (known.prevTerm === undefined) known.prevTerm = before;
        else if (before !== undefined && before !== known.prevTerm) {
          this.violate(
            `log matching: on ${node} entry ${entry.index} of term ${entry.term} follows term ${before}, elsewhere term ${known.prevTerm}`,
          );
        }
      }
      before = entry.term;
    }
  }

  /**
   * A node's state machine was loaded from a snapshot holding these applied DATA entries: they
   * must agree with the sequence, and the node's applies continue after them.
   */
  observeSnapshotLoad(node: PeerKey, entries: readonly { index: number; term: number; key: string }[]): void {
    this.nodeStarted(node);
    for (const entry of entries) this.observeAppliedKey(node, entry.index, entry.term, entry.key);
  }

  /** A node's state machine applied a DATA entry. */
  observeApply(node: PeerKey, index: number, term: number, data: Uint8Array): void {
    this.observeAppliedKey(node, index, term, dataKey(data));
  }

  /** observeApply with the data already in its dataKey form. */
  observeAppliedKey(node: PeerKey, index: number, term: number, key: string): void {
    const applies = this.nodes.get(node);
    if (applies === undefined) {
      this.violate(`${node} applied entry ${index} before it started`);
      return;
    }
    const previous = applies.indexes.at(-1) ?? 0;
    if (index <= previous) this.violate(`${node} applied entry ${index} after entry ${previous}`);
    for (let skipped = previous + 1; skipped < index; skipped++) {
      if (this.sequence.has(skipped))
        this.violate(`${node} applied entry ${index} but skipped entry ${skipped}`);
    }
    applies.indexes.push(index);
    applies.set.add(index);
    const known = this.sequence.get(index);
    if (known === undefined) this.newInSequence(index, term, key, node);
    else if (known.term !== term || known.key !== key) {
      this.violate(`entry ${index} applied as term ${known.term} elsewhere but as term ${term} on ${node}`);
    }
    const ackedKey = this.acked.get(index);
    if (ackedKey !== undefined && ackedKey !== key)
      this.violate(`${node} applied other data at acked index ${index}`);
  }

  /** The first apply of `index` anywhere: nodes already past it must have applied it too. */
  private newInSequence(index: number, term: number, key: string, by: PeerKey): void {
    this.sequence.set(index, { term, key });
    for (const [node, applies] of this.nodes) {
      if (node !== by && (applies.indexes.at(-1) ?? 0) > index && !applies.set.has(index))
        this.violate(`${node} applied past entry ${index} without applying it`);
    }
  }

  /** A client's apply resolved OK at `index`. */
  observeAck(index: number, data: Uint8Array): void {
    this.ackedMax = Math.max(this.ackedMax, index);
    const key = dataKey(data);
    const previous = this.acked.get(index);
    if (previous !== undefined && previous !== key)
      this.violate(`two different applies acknowledged at index ${index}`);
    this.acked.set(index, key);
    const applied = this.sequence.get(index);
    if (applied !== undefined && applied.key !== key) this.violate(`acked index ${index} holds other data`);
  }

  /** Call when a read begins: what it must at least see. */
  readStarted(): number {
    return this.ackedMax;
  }

  /** A read that began when `floor` was the highest acknowledged index was served at `index`. */
  observeRead(node: PeerKey, floor: number, index: number): void {
    this.readsServed++;
    if (index < floor)
      this.violate(`${node} served a read at index ${index} after index ${floor} was acknowledged`);
  }

  /**
   * Every node applied a gap-free prefix of the sequence: nothing the others applied below its
   * own last applied index is missing from it.
   */
  checkAppliedPrefixes(): void {
    const dataIndexes = [...this.sequence.keys()].sort((a, b) => a - b);
    for (const [node, { indexes }] of this.nodes) {
      const last = indexes.at(-1) ?? 0;
      const expected = dataIndexes.filter((index) => index <= last);
      if (expected.length !== indexes.length || expected.some((index, i) => indexes[i] !== index)) {
        this.violate(
          `${node} applied ${indexes.length} entries through ${last}, the sequence has ${expected.length}`,
        );
      }
    }
  }

  /** Log matching across the given (durable) logs. */
  checkLogMatching(logs: ReadonlyMap<PeerKey, readonly LogEntry[]>): void {
    const all = [...logs];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const [nameA, logA] = all[i] as [PeerKey, readonly LogEntry[]];
        const [nameB, logB] = all[j] as [PeerKey, readonly LogEntry[]];
        const dataless = this.witnesses.has(nameA) || this.witnesses.has(nameB);
        const problem = logMismatch(logA, logB, dataless);
        if (problem !== undefined) this.violate(`logs of ${nameA} and ${nameB}: ${problem}`);
      }
    }
  }

  /** Every acknowledged apply is in the sequence at its index (call after convergence). */
  checkAcknowledgedApplied(): void {
    for (const [index, key] of this.acked) {
      const applied = this.sequence.get(index);
      if (applied === undefined) this.violate(`acknowledged entry ${index} was never applied`);
      else if (applied.key !== key) this.violate(`acknowledged entry ${index} was replaced`);
    }
  }

  violate(message: string): void {
    if (this.violations.length < 100)
      this.violations.push(this.label === "" ? message : `${this.label}: ${message}`);
  }
}

/** Describes how two logs break log matching, or undefined when they don't. */
export function logMismatch(
  a: readonly LogEntry[],
  b: readonly LogEntry[],
  /** One log is a witness's: DATA entries without data there match any data. */
  dataless = false,
): string | undefined {
  const byIndexA = new Map(a.map((entry) => [entry.index, entry]));
  let highestMatch = 0;
  for (const entry of b) {
    if (byIndexA.get(entry.index)?.term === entry.term) highestMatch = Math.max(highestMatch, entry.index);
  }
  for (const entry of b) {
    if (entry.index > highestMatch) continue;
    const other = byIndexA.get(entry.index);
    if (other === undefined) continue; // compacted on one side
    if (other.term !== entry.term)
      return `entry ${entry.index} differs in term below matching entry ${highestMatch}`;
    const stripped =
      dataless && entry.type === EntryType.DATA && (entry.data.length === 0 || other.data.length === 0);
    if ((!stripped && dataKey(other.data) !== dataKey(entry.data)) || other.type !== entry.type) {
      return `entry ${entry.index} of term ${entry.term} holds different data`;
    }
  }
  return undefined;
}
