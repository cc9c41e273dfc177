/**
 * braft's LogManager: the node's log and meta on storage.
 *
 * Persist jobs (a hard state and/or entries from one core Ready) complete in FIFO order. Jobs
 * that queue while a write is running are merged into the next one: one storage append (one
 * fsync) and at most one meta write per batch, which is what makes the leader's log cheap under
 * load (group commit). Reads go straight to the storage, which serves recent entries from memory.
 */
import { ConfigurationManager, normalizeConfiguration } from "../core/configuration.js";
import { RaftError, invariant } from "../core/errors.js";
import type { LogReader } from "../core/raft-log.js";
import type { ConfigurationData, HardState, LogEntry, LogId } from "../core/types.js";
import type { LogStorage, RaftMetaStorage } from "../storage/interfaces.js";
import { noopNodeMetrics, type NodeMetrics } from "../env/metrics.js";

/** How the LogManager times its write batches (the node's clock and metrics). */
export interface LogManagerMetrics {
  readonly nowMs: () => number;
  readonly metrics: NodeMetrics;
}

const UNTIMED: LogManagerMetrics = { nowMs: () => 0, metrics: noopNodeMetrics };

/** What one core Ready asks to persist. */
export interface PersistJob {
  readonly hardState: HardState | undefined;
  readonly entries: readonly LogEntry[];
}

interface QueuedJob {
  /** Entries and hard state to persist, or an exclusive storage operation (snapshot bookkeeping). */
  readonly work: PersistJob | (() => Promise<void>);
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The merged form of several jobs: truncate (maybe), then append and set meta. */
interface WriteBatch {
  truncateAfter: number | undefined;
  entries: LogEntry[];
  hardState: HardState | undefined;
}

export class LogManager implements LogReader {
  private queue: QueuedJob[] = [];
  private writing: Promise<void> | undefined;
  private failure: unknown;
  /** The newest snapshot: entries through it may be gone from the log, but its term is known. */
  private snapshot: LogId = { index: 0, term: 0 };
  /** The snapshot before it: braft keeps the log from there on, for followers a little behind. */
  private previousSnapshotIndex = 0;
  /**
   * The entry just before the log's first, when a snapshot here cut the prefix: its term stays
   * known, so a leader can send from the first entry it holds (a witness leader, which sends no
   * snapshot, has no other way to catch a replica up). After a restart it is unknown again.
   */
  private trimmedAt: LogId = { index: 0, term: 0 };
  private readonly closers: (() => Promise<void>)[] = [];

  constructor(
    private readonly log: LogStorage,
    private readonly meta: RaftMetaStorage,
    /** At most this many jobs are merged into one write (raft_leader_batch). */
    private readonly jobsPerBatchMax: number,
    /** Observes each batch that appends entries: one observation per batch, never per entry. */
    private readonly timing: LogManagerMetrics = UNTIMED,
    /** A batch also ends once its entries hold this many data bytes (raft_max_append_buffer_size). */
    private readonly bytesPerBatchMax = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * Opens both storages; returns the persisted hard state and the configurations: the
   * snapshot's (or the initial one), then those of the log entries after it.
   */
  async init(
    initialConf: ConfigurationData,
    snapshot: { id: LogId; conf: ConfigurationData } | undefined,
  ): Promise<{ hardState: HardState; confs: ConfigurationManager }> {
    await this.meta.init();
    const found: LogEntry[] = [];
    await this.log.init((entry) => found.push(entry));
    checkConsistency(this.log, snapshot?.id);
    const base = snapshot ?? { id: { index: 0, term: 0 }, conf: initialConf };
    const confs = new ConfigurationManager({ id: base.id, conf: normalizeConfiguration(base.conf) });
    if (snapshot !== undefined) {
      this.snapshot = snapshot.id;
      this.previousSnapshotIndex = snapshot.id.index;
      await this.alignLogWithSnapshot(0);
    }
    for (const entry of found) {
      if (entry.conf !== undefined && entry.index > base.id.index && entry.index <= this.log.lastLogIndex()) {
        confs.add({ id: { index: entry.index, term: entry.term }, conf: entry.conf });
      }
    }
    return { hardState: this.meta.getTermAndVotedFor(), confs };
  }

  // ---- LogReader ---------------------------------------------------------------------------

  firstIndex(): number {
    return this.log.firstLogIndex();
  }

  lastIndex(): number {
    return this.log.lastLogIndex();
  }

  term(index: number): number | undefined {
    if (index === 0) return 0;
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index === this.trimmedAt.index && index === this.log.firstLogIndex() - 1) return this.trimmedAt.term;
    if (index < this.log.firstLogIndex() || index > this.log.lastLogIndex()) return undefined;
    return this.log.getTerm(index);
  }

  entry(index: number): LogEntry | undefined {
    return this.log.getEntry(index);
  }

  // ---- writes ------------------------------------------------------------------------------

  /** No write queued or running: everything persisted so far is durable. */
  get idle(): boolean {
    return this.writing === undefined && this.queue.length === 0;
  }

  /** Persists a job after every job queued before it; resolves once durable. */
  persist(job: PersistJob): Promise<void> {
    return this.enqueue(job);
  }

  get lastSnapshot(): LogId {
    return this.snapshot;
  }

  /**
   * Records the snapshot the state machine now holds (braft's set_snapshot), in order with the
   * writes; resolves with whether the log was reset. A log holding the snapshot's last entry
   * loses only a prefix: braft keeps entries from the previous snapshot on (or `keepEntries`
   * before this one), so a follower a little behind still catches up from the log. A log that
   * stops short of the snapshot, or starts right after it, keeps what follows it. A log that
   * disagrees with the snapshot's last entry restarts after it.
   */
  setSnapshot(snapshot: LogId, keepEntries: number | undefined): Promise<boolean> {
    let reset = false;
    return this.enqueue(async () => {
      this.previousSnapshotIndex = this.snapshot.index;
      this.snapshot = snapshot;
      reset = await this.alignLogWithSnapshot(keepEntries);
    }).then(() => reset);
  }

  /** Cuts the log to fit the snapshot; true when it had to be reset entirely. */
  private async alignLogWithSnapshot(keepEntries: number | undefined): Promise<boolean> {
    const { index, term } = this.snapshot;
    const termThere = this.log.getTerm(index);
    const first = this.log.firstLogIndex();
    if (termThere === 0 && first <= index + 1) {
      if (first <= index) await this.log.truncatePrefix(index + 1);
      return false;
    }
    if (termThere !== term) {
      await this.log.reset(index + 1);
      return true;
    }
    const keepFrom = keepEntries === undefined ? this.previousSnapshotIndex + 1 : index + 1 - keepEntries;
    if (keepFrom > first) await this.trimPrefix(Math.min(keepFrom, index + 1));
    return false;
  }

  /** Drops the entries before `firstKept`, remembering the term of the last one dropped. */
  private async trimPrefix(firstKept: number): Promise<void> {
    const dropped = { index: firstKept - 1, term: this.log.getTerm(firstKept - 1) };
    await this.log.truncatePrefix(firstKept);
    this.trimmedAt = dropped;
  }

  private enqueue(work: QueuedJob["work"]): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.queue.push({ work, resolve, reject });
      this.writing ??= this.writeLoop();
    });
  }

  /** Resolves once every queued job has completed (or failed). */
  async drain(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /**
   * Runs `closer` when the LogManager closes: the node's other storages (its snapshot storage)
   * are released on the same paths, shutdown and a failed init.
   */
  closeAlso(closer: () => Promise<void>): void {
    this.closers.push(closer);
  }

  async close(): Promise<void> {
    await this.drain();
    const closers = this.closers.splice(0);
    await Promise.all([this.log.close(), this.meta.close(), ...closers.map((close) => close())]);
  }

  private async writeLoop(): Promise<void> {
    // The first write starts a microtask later, still in this turn: the jobs queued by the same
    // synchronous run (a drive's apply batches of raft_apply_batch tasks each, the appends of one
    // socket read) merge into it. Started at once, the first batch went alone and the rest
    // waited a whole fsync behind it: two fsyncs per round from 64 callers on (bench, 0b5eadc).
    await Promise.resolve();
    try {
      while (this.queue.length > 0) {
        const jobs = this.takeBatch();
        try {
          const [first] = jobs;
          if (first !== undefined && typeof first.work === "function") await first.work();
          else await this.writeTimed(this.merge(jobs.map((job) => job.work as PersistJob)));
        } catch (error) {
          this.fail(jobs, error);
          return;
        }
        for (const job of jobs) job.resolve();
        // The jobs' completions (a follower's answers) run before the next write starts: that
        // write may replace entries they vouch for (see jobsBeforeOverwrite).
        if (this.queue.length > 0) await undefined;
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** The next batch: one exclusive operation, or consecutive persist jobs up to the batch bound. */
  private takeBatch(): QueuedJob[] {
    const end = this.queue.findIndex((job, i) => typeof job.work === "function" && i > 0);
    const [first] = this.queue;
    if (first !== undefined && typeof first.work === "function") return this.queue.splice(0, 1);
    const count = Math.min(end === -1 ? this.queue.length : end, this.jobsPerBatchMax);
    return this.queue.splice(0, this.jobsWithinBytes(this.jobsBeforeOverwrite(count)));
  }

  /**
   * How many of the first `count` jobs extend one another. A job that overwrites entries written
   * before it (a new leader's entries replacing an old one's) starts the next batch, unless it
   * is the first: the jobs before it resolve, and their answers (AppendEntries successes) leave,
   * only while the entries they vouch for are the durable ones. Merged, they would vouch for
   * entries already replaced.
   */
  private jobsBeforeOverwrite(count: number): number {
    // A job with no entries vouches for what is written already, so the log's end counts too.
    let last = this.log.lastLogIndex();
    for (let i = 0; i < count; i++) {
      const { entries } = (this.queue[i] as QueuedJob).work as PersistJob;
      const first = entries[0];
      if (first === undefined) continue;
      if (i > 0 && first.index <= last) return i;
      last = first.index + entries.length - 1;
    }
    return count;
  }

  /** How many of the first `count` jobs fit raft_max_append_buffer_size (always at least one). */
  private jobsWithinBytes(count: number): number {
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const work = (this.queue[i] as QueuedJob).work as PersistJob;
      for (const entry of work.entries) bytes += entry.data.length;
      // braft's AppendBatcher flushes once the buffer reaches the bound, the job that reached it included.
      if (bytes >= this.bytesPerBatchMax) return i + 1;
    }
    return count;
  }

  /** A failed write leaves the log in an unknown state: every later job fails too. */
  private fail(jobs: QueuedJob[], error: unknown): void {
    this.failure = RaftError.is(error)
      ? error
      : new RaftError("EIO", `log write failed: ${String(error)}`, { cause: error });
    for (const job of [...jobs, ...this.queue.splice(0)]) job.reject(this.failure);
  }

  private merge(jobs: readonly PersistJob[]): WriteBatch {
    const batch: WriteBatch = { truncateAfter: undefined, entries: [], hardState: undefined };
    for (const job of jobs) {
      if (job.hardState !== undefined) batch.hardState = job.hardState;
      if (job.entries.length > 0) this.mergeEntries(batch, job.entries);
    }
    return batch;
  }

  /** Later entries overwrite earlier ones from their first index on (a follower's conflict). */
  private mergeEntries(batch: WriteBatch, entries: readonly LogEntry[]): void {
    const first = (entries[0] as LogEntry).index;
    const batchFirst = batch.entries[0]?.index;
    if (batchFirst !== undefined && first >= batchFirst) {
      invariant(
        first <= batchFirst + batch.entries.length,
        () => `gap before entry ${first} in a write batch`,
      );
      batch.entries.length = first - batchFirst;
    } else {
      batch.entries = [];
      const durableLast = Math.min(this.log.lastLogIndex(), batch.truncateAfter ?? Number.POSITIVE_INFINITY);
      invariant(first <= durableLast + 1, () => `gap before entry ${first}: log ends at ${durableLast}`);
      if (first <= durableLast) batch.truncateAfter = first - 1;
    }
    for (const entry of entries) batch.entries.push(entry);
  }

  /** Writes a batch; one appending entries is timed, truncation and fsync included. */
  private async writeTimed(batch: WriteBatch): Promise<void> {
    if (batch.entries.length === 0) return this.write(batch);
    const startMs = this.timing.nowMs();
    await this.write(batch);
    this.timing.metrics.observeAppend((this.timing.nowMs() - startMs) / 1000);
  }

  private async write(batch: WriteBatch): Promise<void> {
    if (batch.truncateAfter !== undefined && batch.truncateAfter < this.log.lastLogIndex()) {
      await this.log.truncateSuffix(batch.truncateAfter);
    }
    const entries = batch.entries.length > 0 ? this.log.appendEntries(batch.entries) : undefined;
    const meta = batch.hardState === undefined ? undefined : this.meta.setTermAndVotedFor(batch.hardState);
    // The common batch is entries alone: awaited directly, without Promise.all's extra promises.
    if (entries !== undefined && meta !== undefined) await Promise.all([entries, meta]);
    else await (entries ?? meta);
  }
}

/**
 * braft's LogManager::check_consistency, before anything is cut: the entries between the snapshot
 * (or index 0) and the first entry of the log must all be there. A gap means durable entries were
 * lost outside of Raft (files restored from different moments, a directory copied in part), and
 * aligning the log with the snapshot would reset it, throwing away every entry after the gap
 * without a word. braft stops too (EIO), so the operator decides.
 */
function checkConsistency(log: LogStorage, snapshot: LogId | undefined): void {
  const first = log.firstLogIndex();
  const last = log.lastLogIndex();
  const expectedFirstMax = (snapshot?.index ?? 0) + 1;
  if (first <= expectedFirstMax) return;
  const logText = last >= first ? `entries ${first}..${last}` : `empty, next index ${first}`;
  const where =
    snapshot === undefined
      ? `there is no snapshot and the log (${logText}) does not start at 1`
      : `there is a gap between the snapshot (last index ${snapshot.index}, term ${snapshot.term}) ` +
        `and the log (${logText})`;
  throw new RaftError(
    "EIO",
    `${where}: entries ${expectedFirstMax}..${first - 1} are missing. tsraft refuses to start rather ` +
      "than drop the log after the gap. The storage was damaged or assembled from different moments " +
      "(for example a snapshot directory older than the log, or no snapshotUri for a log that was " +
      "compacted). If the snapshot directory was moved, point snapshotUri at it again; otherwise " +
      "restore this node from a healthy peer: remove it from the group, wipe its log, raft meta and " +
      "snapshot directories, start it empty and add it back, and the leader sends it a snapshot.",
  );
}
