/**
 * A simulated disk for one simulated process: the durable log and raft meta survive crashes,
 * writes take random time, and a crash loses what was not yet durable (tearing an append at an
 * entry boundary). The node talks to it through the ordinary LogStorage and RaftMetaStorage.
 */
import { RaftError, invariant } from "../core/errors.js";
import { EntryType, type HardState, type LogEntry } from "../core/types.js";
import type { Env } from "../env/env.js";
import type { LogStorage, RaftMetaStorage } from "../storage/interfaces.js";
import type { Prng } from "./prng.js";

/** Write latency of one storage incarnation; each write draws uniformly in [min, max). */
export interface SimDiskOptions {
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
}

const DEFAULT_DISK_OPTIONS: SimDiskOptions = { minLatencyMs: 1, maxLatencyMs: 5 };

type LogOp =
  | { readonly kind: "append"; readonly entries: readonly LogEntry[] }
  | { readonly kind: "truncatePrefix"; readonly firstIndexKept: number }
  | { readonly kind: "truncateSuffix"; readonly lastIndexKept: number }
  | { readonly kind: "reset"; readonly nextLogIndex: number };

/** [first, last] of a log; last = first - 1 when empty. */
interface Bounds {
  first: number;
  last: number;
}

/** The log bounds after `op`; the single definition both the projection and the disk follow. */
function boundsAfter(bounds: Bounds, op: LogOp): Bounds {
  const { first, last } = bounds;
  switch (op.kind) {
    case "append":
      return { first, last: op.entries.at(-1)?.index ?? last };
    case "truncatePrefix": // braft: keeping past the end leaves an empty log starting there
      return op.firstIndexKept <= first
        ? bounds
        : { first: op.firstIndexKept, last: Math.max(last, op.firstIndexKept - 1) };
    case "truncateSuffix":
      return op.lastIndexKept >= last ? bounds : { first, last: Math.max(first - 1, op.lastIndexKept) };
    case "reset":
      return { first: op.nextLogIndex, last: op.nextLogIndex - 1 };
  }
}

/** Log entries that are on the platter. Invariant: entries[i].index === first + i. */
class DurableLog {
  first = 1;
  entries: LogEntry[] = [];

  get last(): number {
    return this.first + this.entries.length - 1;
  }

  get(index: number): LogEntry | undefined {
    return index < this.first ? undefined : this.entries[index - this.first];
  }

  apply(op: LogOp): void {
    const next = boundsAfter(this, op);
    invariant(
      op.kind !== "append" || (op.entries[0]?.index ?? this.last + 1) === this.last + 1,
      () => `SimDisk: append at ${op.kind === "append" ? op.entries[0]?.index : ""} after ${this.last}`,
    );
    if (op.kind === "append") for (const entry of op.entries) this.entries.push(entry);
    else if (op.kind === "reset") this.entries = [];
    this.entries.splice(0, Math.max(0, next.first - this.first));
    this.first = next.first;
    this.entries.splice(next.last - next.first + 1);
    invariant(
      this.entries.length === 0 || this.entries[0]?.index === this.first,
      () => `SimDisk: log starts at ${this.entries[0]?.index}, expected ${this.first}`,
    );
  }

  clone(): DurableLog {
    const copy = new DurableLog();
    copy.first = this.first;
    copy.entries = [...this.entries];
    return copy;
  }
}

/** The durable hard state; a box so a dead incarnation can keep the one it saw. */
interface MetaCell {
  state: HardState;
}

/**
 * What a dead incarnation returns: it must never resolve or reject again. A fresh promise each
 * time, so the reactions a zombie attaches are collected with it instead of piling up.
 */
function never(): Promise<never> {
  return new Promise<never>(() => {});
}

interface QueuedWrite<Op> {
  readonly op: Op;
  readonly resolve: () => void;
  done: boolean;
}

/**
 * The writes one storage incarnation has submitted, completing in FIFO order after random
 * latencies. Only on completion does a write reach the durable state.
 */
class WriteQueue<Op> {
  readonly #env: Env;
  readonly #prng: Prng;
  readonly #options: SimDiskOptions;
  readonly #apply: (op: Op) => void;
  #queue: QueuedWrite<Op>[] = [];
  #lastCompletionMs = 0;
  #tail: Promise<void> = Promise.resolve();
  #state: "open" | "closed" | "dead" = "open";

  constructor(env: Env, prng: Prng, options: SimDiskOptions, apply: (op: Op) => void) {
    this.#env = env;
    this.#prng = prng;
    this.#options = options;
    this.#apply = apply;
  }

  get state(): "open" | "closed" | "dead" {
    return this.#state;
  }

  /**
   * Resolves once `op` is durable; never settles if the process crashes first. Rejects with
   * ESHUTDOWN after close().
   */
  submit(op: Op): Promise<void> {
    if (this.#state === "dead") return never();
    if (this.#state === "closed") return Promise.reject(new RaftError("ESHUTDOWN", "storage is closed"));
    const nowMs = this.#env.nowMs();
    const latencyMs = this.#prng.between(this.#options.minLatencyMs, this.#options.maxLatencyMs);
    // A later write never completes before an earlier one: FIFO per storage.
    this.#lastCompletionMs = Math.max(this.#lastCompletionMs, nowMs + latencyMs);
    this.#tail = new Promise<void>((resolve) => {
      const write: QueuedWrite<Op> = { op, resolve, done: false };
      this.#queue.push(write);
      this.#env.setTimer(() => this.#completeThrough(write), this.#lastCompletionMs - nowMs);
    });
    return this.#tail;
  }

  /** Resolves once every write submitted so far is durable, then refuses new writes. */
  async close(): Promise<void> {
    if (this.#state === "dead") return never();
    await this.#tail;
    if (this.#state === "open") this.#state = "closed";
  }

  /**
   * Completes the queue up to and including `write`. Float rounding may fire an equal-time
   * timer of an earlier write a hair later; completing through keeps the order anyway.
   */
  #completeThrough(write: QueuedWrite<Op>): void {
    if (this.#state === "dead" || write.done) return;
    for (;;) {
      const head = this.#queue.shift();
      if (head === undefined) return;
      head.done = true;
      this.#apply(head.op);
      head.resolve();
      if (head === write) return;
    }
  }

  /** The process crashed: returns the writes that never completed, oldest first. */
  kill(): readonly Op[] {
    this.#state = "dead";
    const lost = this.#queue.map((write) => write.op);
    this.#queue = [];
    return lost;
  }
}

/** One incarnation's LogStorage over the disk's durable log. */
class SimLogStorage implements LogStorage {
  readonly #durable: DurableLog;
  readonly #writes: WriteQueue<LogOp>;
  /** The bounds once every queued write lands; new appends must continue these. */
  #projected: Bounds;

  constructor(durable: DurableLog, writes: WriteQueue<LogOp>) {
    this.#durable = durable;
    this.#writes = writes;
    this.#projected = { first: durable.first, last: durable.last };
  }

  async init(onConfiguration: (entry: LogEntry) => void): Promise<void> {
    if (this.#writes.state === "dead") return never();
    for (const entry of this.#durable.entries) {
      if (entry.type === EntryType.CONFIGURATION) onConfiguration(entry);
    }
  }

  firstLogIndex(): number {
    return this.#durable.first;
  }

  lastLogIndex(): number {
    return this.#durable.last;
  }

  getEntry(index: number): LogEntry | undefined {
    return this.#durable.get(index);
  }

  getTerm(index: number): number {
    return this.#durable.get(index)?.term ?? 0;
  }

  appendEntries(entries: readonly LogEntry[]): Promise<void> {
    if (this.#writes.state === "dead") return never();
    const start = entries[0]?.index ?? this.#projected.last + 1;
    const gap = entries.findIndex((entry, i) => entry.index !== start + i);
    if (start !== this.#projected.last + 1 || gap !== -1) {
      const found = entries.map((entry) => entry.index).join(",");
      return Promise.reject(
        new RaftError(
          "EINVAL",
          `appendEntries: expected indexes from ${this.#projected.last + 1}, got [${found}]`,
        ),
      );
    }
    // The disk keeps its own bytes: later changes to the caller's buffers must not reach it.
    const copies = entries.map((entry) => ({ ...entry, data: entry.data.slice() }));
    return this.#submit({ kind: "append", entries: copies });
  }

  truncatePrefix(firstIndexKept: number): Promise<void> {
    return this.#submitChecked({ kind: "truncatePrefix", firstIndexKept }, firstIndexKept, 0);
  }

  truncateSuffix(lastIndexKept: number): Promise<void> {
    return this.#submitChecked({ kind: "truncateSuffix", lastIndexKept }, lastIndexKept, 0);
  }

  reset(nextLogIndex: number): Promise<void> {
    return this.#submitChecked({ kind: "reset", nextLogIndex }, nextLogIndex, 1);
  }

  close(): Promise<void> {
    return this.#writes.close();
  }

  #submitChecked(op: LogOp, index: number, min: number): Promise<void> {
    if (this.#writes.state === "dead") return never();
    if (!Number.isSafeInteger(index) || index < min) {
      return Promise.reject(new RaftError("EINVAL", `${op.kind}: bad index ${index}`));
    }
    return this.#submit(op);
  }

  #submit(op: LogOp): Promise<void> {
    if (this.#writes.state !== "open") return this.#writes.submit(op);
    this.#projected = boundsAfter(this.#projected, op);
    return this.#writes.submit(op);
  }
}

/** One incarnation's RaftMetaStorage over the disk's durable hard state. */
class SimMetaStorage implements RaftMetaStorage {
  readonly #durable: MetaCell;
  readonly #writes: WriteQueue<HardState>;

  constructor(durable: MetaCell, writes: WriteQueue<HardState>) {
    this.#durable = durable;
    this.#writes = writes;
  }

  init(): Promise<void> {
    return this.#writes.state === "dead" ? never() : Promise.resolve();
  }

  getTermAndVotedFor(): HardState {
    return this.#durable.state;
  }

  setTermAndVotedFor(state: HardState): Promise<void> {
    return this.#writes.submit({ term: state.term, votedFor: state.votedFor });
  }

  close(): Promise<void> {
    return this.#writes.close();
  }
}

/** The durable state of one simulated process; it outlives every incarnation of the process. */
/** What a checker hears of the durable log: every write at the moment it becomes durable. */
export interface DurableLogObserver {
  /** `entries` became durable after an entry of term `prevTerm` (undefined: compacted or none). */
  appended(entries: readonly LogEntry[], prevTerm: number | undefined): void;
  /** Entries after `lastIndexKept` were removed (a conflicting suffix, or a reset log). */
  truncated(lastIndexKept: number): void;
}

export class SimDisk {
  /** Told of every durable log write (set by the cluster's checkers). */
  observer: DurableLogObserver | undefined;
  readonly #prng: Prng;
  #log = new DurableLog();
  #meta: MetaCell = { state: { term: 0, votedFor: "" } };
  #logWrites: WriteQueue<LogOp> | undefined;
  #metaWrites: WriteQueue<HardState> | undefined;

  /** `prng` decides write latencies and how much of a torn append survives a crash. */
  constructor(prng: Prng) {
    this.#prng = prng;
  }

  /**
   * The LogStorage of the process's current incarnation. Only one may be open at a time: a
   * second writer over the same durable log would make the simulation meaningless.
   */
  openLog(env: Env, options: SimDiskOptions = DEFAULT_DISK_OPTIONS): LogStorage {
    if (this.#logWrites?.state === "open") {
      throw new Error("SimDisk.openLog: a live incarnation already has the log open; crash() first");
    }
    const log = this.#log;
    this.#logWrites = new WriteQueue<LogOp>(env, this.#prng, checked(options), (op) =>
      this.#applyLog(log, op),
    );
    return new SimLogStorage(log, this.#logWrites);
  }

  /** The RaftMetaStorage of the process's current incarnation; one at a time, like openLog. */
  openMeta(env: Env, options: SimDiskOptions = DEFAULT_DISK_OPTIONS): RaftMetaStorage {
    if (this.#metaWrites?.state === "open") {
      throw new Error("SimDisk.openMeta: a live incarnation already has the meta open; crash() first");
    }
    const meta = this.#meta;
    this.#metaWrites = new WriteQueue<HardState>(env, this.#prng, checked(options), (state) => {
      meta.state = state;
    });
    return new SimMetaStorage(meta, this.#metaWrites);
  }

  /**
   * Kills the current incarnation. Pending writes are lost, except that the oldest pending
   * append may leave a random prefix of its entries durable: none, some, or all of them (all:
   * written but never acknowledged). Storage objects of the dead incarnation never settle again.
   */
  crash(): void {
    const lostLog = this.#logWrites?.kill() ?? [];
    this.#metaWrites?.kill();
    const head = lostLog[0];
    if (head?.kind === "append") {
      const kept = this.#prng.int(0, head.entries.length);
      if (kept > 0) this.#applyLog(this.#log, { kind: "append", entries: head.entries.slice(0, kept) });
    }
    // The dead incarnation keeps the old objects, frozen; the next one gets fresh copies.
    this.#log = this.#log.clone();
    this.#meta = { state: this.#meta.state };
  }

  /** Applies a durable write to `log` and tells the observer. */
  #applyLog(log: DurableLog, op: LogOp): void {
    const first = op.kind === "append" ? op.entries[0] : undefined;
    const prevTerm = first === undefined ? undefined : log.get(first.index - 1)?.term;
    log.apply(op);
    const observer = this.observer;
    if (observer === undefined) return;
    if (op.kind === "append") observer.appended(op.entries, prevTerm);
    else if (op.kind === "truncateSuffix") observer.truncated(op.lastIndexKept);
    else if (op.kind === "reset") observer.truncated(op.nextLogIndex - 1);
  }

  /** The term of durable entry `index`, or undefined when it is not in the durable log. */
  durableTermAt(index: number): number | undefined {
    return this.#log.get(index)?.term;
  }

  /** A copy of the durable log entries, for checkers. */
  snapshotOfLog(): LogEntry[] {
    return [...this.#log.entries];
  }

  /** The durable [first, last] of the log (last = first - 1 when empty), for checkers. */
  logBounds(): { readonly first: number; readonly last: number } {
    return { first: this.#log.first, last: this.#log.last };
  }

  /** The durable term and vote, for checkers. */
  hardState(): HardState {
    return this.#meta.state;
  }
}

function checked(options: SimDiskOptions): SimDiskOptions {
  const { minLatencyMs, maxLatencyMs } = options;
  if (!(minLatencyMs >= 0 && minLatencyMs <= maxLatencyMs)) {
    throw new RangeError(
      `SimDisk: need 0 <= minLatencyMs <= maxLatencyMs, got ${minLatencyMs}..${maxLatencyMs}`,
    );
  }
  return { minLatencyMs, maxLatencyMs };
}
