/**
 * braft's FSMCaller: the one ordered queue through which the state machine hears everything,
 * committed entries and role changes alike. One callback at a time; a returned Promise is
 * awaited before the next. A callback that throws or rejects (any but onError and onShutdown,
 * which are only logged), a `done` closure that throws, or a broken invariant puts the node in
 * the ERROR state: nothing escapes the queue, so one group's failure never ends the process.
 */
import { RaftError, invariant } from "../core/errors.js";
import type { LogReader } from "../core/raft-log.js";
import { EntryType, type LogEntry } from "../core/types.js";
import type { ClosureQueue } from "./closure-queue.js";
import { PromiseClosure } from "./apply-queue.js";
import { Iterator } from "./iterator.js";
import { Configuration } from "./peer-id.js";
import type { SnapshotMeta, SnapshotReader, SnapshotWriter } from "../storage/snapshot-storage.js";
import type { LeaderChangeContext, StateMachine } from "./state-machine.js";
import { Status, type ApplyClosure, type Closure } from "./closure.js";
import { nodeFailureOf, runEach, stackOf, stateMachineError } from "./user-code.js";

/** The closure a new leader registers on its first configuration entry (braft's ConfigurationChangeDone). */
export class LeaderStartClosure implements Closure {
  constructor(readonly term: number) {}
  run(): void {}
}

type Task =
  | { readonly type: "committed" }
  | { readonly type: "leaderStop"; readonly term: number; readonly status: Status }
  | { readonly type: "leaderStart"; readonly term: number }
  | { readonly type: "following"; readonly start: boolean; readonly ctx: LeaderChangeContext }
  | { readonly type: "error"; readonly error: RaftError }
  | { readonly type: "snapshotSave"; readonly save: SnapshotSave }
  | {
      readonly type: "snapshotLoad";
      readonly reader: SnapshotReader;
      readonly meta: SnapshotMeta;
      readonly done: (error?: RaftError) => void;
    }
  | { readonly type: "shutdown"; readonly done: () => void };

/** A snapshot save as the FSMCaller runs it, at its turn in the queue. */
export interface SnapshotSave {
  /** Opens a writer for a snapshot at `appliedIndex`, or returns undefined to skip (too few new entries). */
  begin(appliedIndex: number): Promise<SnapshotWriter | undefined>;
  /** braft's `done` of on_snapshot_save: run by the state machine once its files are written. */
  readonly done: Closure;
}

/** How the FSMCaller reports back to its node. */
export interface FsmCallerHost {
  onApplied(index: number): void;
  /** The state machine failed; the node must enter the ERROR state. */
  onStateMachineError(error: RaftError): void;
  warn(message: string): void;
}

/** raft_fsm_caller_commit_batch's default, when no bound is given. */
const ENTRIES_PER_APPLY_DEFAULT = 512;

/** How a node's FSMCaller applies, beyond its parts. */
export interface FsmCallerOptions {
  /**
   * NodeOptions.witness: the state machine hears role and configuration changes only. DATA
   * entries advance the applied index without onApply, snapshots hold just their meta.
   */
  readonly witness?: boolean;
  /**
   * raft_fsm_caller_commit_batch (512 by default): DATA entries handed to one onApply call at
   * most, which bounds the entries held in memory at once. braft counts commit notifications
   * merged into one pass; here notifications are merged into one index anyway, so the bound is
   * on entries.
   */
  readonly entriesPerApplyMax?: number;
}

export class FSMCaller {
  private readonly tasks: Task[] = [];
  private running = false;
  private appliedIndex: number;
  private committedIndex: number;
  private startedLeaderTerm: number | undefined;
  private error: RaftError | undefined;
  /** The task being executed, for raft_stat's state_machine line. */
  private current: Task | undefined;

  constructor(
    private readonly fsm: StateMachine,
    private readonly log: LogReader,
    private readonly closureQueue: ClosureQueue,
    private readonly host: FsmCallerHost,
    appliedIndex: number,
    private readonly options: FsmCallerOptions = {},
  ) {
    this.appliedIndex = appliedIndex;
    this.committedIndex = appliedIndex;
  }

  private get isWitness(): boolean {
    return this.options.witness === true;
  }

  get lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  /** Entries through `index` are committed and durable locally; apply them in order. */
  onCommitted(index: number): void {
    if (index <= this.committedIndex) return;
    this.committedIndex = index;
    this.enqueue({ type: "committed" });
  }

  onLeaderStop(term: number, status: Status): void {
    this.enqueue({ type: "leaderStop", term, status });
  }

  /** A leader resumed after a failed transfer (braft's handle_transfer_timeout): onLeaderStart again. */
  onLeaderStart(term: number): void {
    this.enqueue({ type: "leaderStart", term });
  }

  onFollowing(start: boolean, ctx: LeaderChangeContext): void {
    this.enqueue({ type: "following", start, ctx });
  }

  /**
   * Saves a snapshot of the state after every entry applied so far. Applies go on while the state
   * machine finishes writing (it runs `save.done` when its files are complete, braft's contract).
   */
  saveSnapshot(save: SnapshotSave): void {
    this.enqueue({ type: "snapshotSave", save });
  }

  /** Replaces the state machine's state with a snapshot's (install or restore). */
  loadSnapshot(reader: SnapshotReader, meta: SnapshotMeta): Promise<void> {
    return new Promise((resolve, reject) => {
      this.enqueue({
        type: "snapshotLoad",
        reader,
        meta,
        done: (error) => (error === undefined ? resolve() : reject(error)),
      });
    });
  }

  /** Runs onShutdown after everything queued before it; resolves when it returned. */
  shutdown(): Promise<void> {
    return new Promise((resolve) => this.enqueue({ type: "shutdown", done: resolve }));
  }

  private enqueue(task: Task): void {
    this.tasks.push(task);
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      for (let task = this.tasks.shift(); task !== undefined; task = this.tasks.shift()) {
        this.current = task;
        try {
          await this.execute(task);
        } catch (error) {
          this.fail(nodeFailureOf(error), []);
        }
      }
    } finally {
      this.current = undefined;
      this.running = false;
    }
  }

  /** What the state machine is busy with, in braft's words (raft_stat's `state_machine`). */
  describeActivity(): string {
    const task = this.current;
    switch (task?.type) {
      case undefined:
        return "Idle";
      case "committed":
        return `Applying log_index=${this.appliedIndex + 1}`;
      case "leaderStop":
        return "Notifying leader stop";
      case "leaderStart":
        return "Notifying leader start";
      case "following":
        return task.start ? "Notifying start following" : "Notifying stop following";
      case "error":
        return "Notifying error";
      case "snapshotSave":
        return "Saving snapshot";
      case "snapshotLoad":
        return "Loading snapshot";
      case "shutdown":
        return "Shutting down";
    }
  }

  private async execute(task: Task): Promise<void> {
    switch (task.type) {
      case "committed":
        if (this.error === undefined) await this.applyCommitted();
        return;
      case "leaderStop":
        if (this.startedLeaderTerm !== task.term) return;
        this.startedLeaderTerm = undefined;
        await this.callback("onLeaderStop", () => this.fsm.onLeaderStop?.(task.status));
        return;
      case "leaderStart":
        this.startedLeaderTerm = task.term;
        await this.callback("onLeaderStart", () => this.fsm.onLeaderStart?.(task.term));
        return;
      case "following":
        if (task.start) await this.callback("onStartFollowing", () => this.fsm.onStartFollowing?.(task.ctx));
        else await this.callback("onStopFollowing", () => this.fsm.onStopFollowing?.(task.ctx));
        return;
      case "error":
        await this.callback("onError", () => this.fsm.onError?.(task.error), "log");
        return;
      case "snapshotSave":
        await this.runSnapshotSave(task.save);
        return;
      case "snapshotLoad":
        task.done(await this.runSnapshotLoad(task.reader, task.meta));
        return;
      case "shutdown":
        await this.callback("onShutdown", () => this.fsm.onShutdown?.(), "log");
        task.done();
        return;
    }
  }

  private async runSnapshotSave(save: SnapshotSave): Promise<void> {
    if (this.error !== undefined) {
      save.done.run(Status.error("EPERM", `node is in the ERROR state: ${this.error.message}`));
      return;
    }
    let writer: SnapshotWriter | undefined;
    try {
      writer = await save.begin(this.appliedIndex);
    } catch (error) {
      save.done.run(Status.fromError(error));
      return;
    }
    if (writer === undefined) {
      save.done.run(Status.OK());
      return;
    }
    if (this.isWitness) {
      save.done.run(Status.OK()); // the meta, written by the executor, is all a witness keeps
      return;
    }
    const onSnapshotSave = this.fsm.onSnapshotSave;
    if (onSnapshotSave === undefined) {
      save.done.run(Status.error("EINVAL", "the state machine does not implement onSnapshotSave"));
      return;
    }
    try {
      await onSnapshotSave.call(this.fsm, writer, save.done);
    } catch (error) {
      // A `done` run with an error is a failed snapshot (braft); a throw is a broken state machine.
      const failure = stateMachineError("onSnapshotSave", error);
      save.done.run(Status.fromError(failure));
      throw failure;
    }
  }

  /** Loads a snapshot; an error leaves the state machine in an unknown state (the caller stops the node). */
  private async runSnapshotLoad(reader: SnapshotReader, meta: SnapshotMeta): Promise<RaftError | undefined> {
    try {
      return await this.loadSnapshotInto(reader, meta);
    } catch (error) {
      return RaftError.is(error) ? error : nodeFailureOf(error);
    }
  }

  private async loadSnapshotInto(reader: SnapshotReader, meta: SnapshotMeta): Promise<RaftError | undefined> {
    if (meta.lastIncludedIndex < this.appliedIndex) {
      // The state machine is past it already; loading would move it back in time (braft refuses too).
      return new RaftError(
        "ESTALE",
        `snapshot at ${meta.lastIncludedIndex} is older than applied ${this.appliedIndex}`,
      );
    }
    const onSnapshotLoad = this.fsm.onSnapshotLoad;
    if (!this.isWitness) {
      if (onSnapshotLoad === undefined)
        return new RaftError("EINVAL", "the state machine does not implement onSnapshotLoad");
      try {
        await onSnapshotLoad.call(this.fsm, reader);
      } catch (error) {
        return stateMachineError("onSnapshotLoad", error);
      }
    }
    const index = meta.lastIncludedIndex;
    this.appliedIndex = Math.max(this.appliedIndex, index);
    this.committedIndex = Math.max(this.committedIndex, index);
    if ((meta.oldPeers ?? []).length === 0) {
      const conf = new Configuration(meta.peers, meta.learners ?? []);
      await this.callback("onConfigurationCommitted", () => this.fsm.onConfigurationCommitted?.(conf, index));
    }
    return undefined;
  }

  private async applyCommitted(): Promise<void> {
    while (this.appliedIndex < this.committedIndex && this.error === undefined) {
      const entry = this.readEntry(this.appliedIndex + 1);
      if (entry.type !== EntryType.DATA) await this.applyNonData(entry);
      else if (this.isWitness) this.skipData(entry);
      else {
        const pending = this.applyData(entry);
        if (pending !== undefined) await pending;
      }
    }
  }

  private readEntry(index: number): LogEntry {
    const entry = this.log.entry(index);
    invariant(entry !== undefined, () => `committed entry ${index} is missing from the log`);
    return entry;
  }

  /** Configuration and no-op entries: braft runs their closure and reports non-joint configurations. */
  private async applyNonData(entry: LogEntry): Promise<void> {
    const closure = this.closureQueue.take(entry.index);
    if (entry.conf !== undefined && (entry.conf.oldPeers ?? []).length === 0) {
      const conf = new Configuration(entry.conf.peers, entry.conf.learners ?? []);
      await this.callback("onConfigurationCommitted", () =>
        this.fsm.onConfigurationCommitted?.(conf, entry.index),
      );
    }
    if (closure instanceof LeaderStartClosure) {
      this.startedLeaderTerm = closure.term;
      await this.callback("onLeaderStart", () => this.fsm.onLeaderStart?.(closure.term));
    }
    let closureError: unknown;
    try {
      closure?.run(Status.OK());
    } catch (error) {
      closureError = stateMachineError("a done closure", error);
    }
    // Applied whatever its closure did; a closure that threw stops the node after the advance.
    this.advance(entry.index);
    if (closureError !== undefined) throw closureError;
  }

  /**
   * A witness passes over DATA entries: it holds them only to vote and count quorums. A witness
   * leader takes no proposals, so no closure waits on them; one left over from before is failed.
   */
  private skipData(first: LogEntry): void {
    let last = first.index;
    while (last < this.committedIndex && this.log.entry(last + 1)?.type === EntryType.DATA) last++;
    const closures: (Closure | undefined)[] = [];
    for (let index = first.index; index <= last; index++) closures.push(this.closureQueue.take(index));
    this.advance(last);
    runEach(closures, (closure) => closure?.run(Status.error("EPERM", "a witness applies no entries")));
  }

  /**
   * Applies a batch of data entries. A synchronous onApply is finished in this call (its done
   * closures, the leader's replies, run now rather than after a round of microtasks); the
   * Promise is returned only when onApply returned one.
   */
  private applyData(first: LogEntry): Promise<void> | undefined {
    const entries = [first];
    const end = Math.min(
      this.committedIndex,
      first.index + (this.options.entriesPerApplyMax ?? ENTRIES_PER_APPLY_DEFAULT) - 1,
    );
    for (let index = first.index + 1; index <= end; index++) {
      const entry = this.readEntry(index);
      if (entry.type !== EntryType.DATA) break;
      entries.push(entry);
    }
    const closures = entries.map((entry) => onceClosure(this.closureQueue.take(entry.index)));
    const iter = new Iterator(entries, closures);
    let result: unknown;
    try {
      result = this.fsm.onApply(iter);
    } catch (error) {
      this.finishBatch(iter, entries, closures, error);
      return undefined;
    }
    if (!isThenable(result)) {
      this.finishBatch(iter, entries, closures, undefined);
      return undefined;
    }
    return Promise.resolve(result).then(
      () => this.finishBatch(iter, entries, closures, undefined),
      (error: unknown) => this.finishBatch(iter, entries, closures, error),
    );
  }

  private finishBatch(
    iter: Iterator,
    entries: LogEntry[],
    closures: (ApplyClosure | undefined)[],
    thrown: unknown,
  ): void {
    let { consumed, error } = iter.outcome();
    if (error === undefined && thrown !== undefined) {
      error = stateMachineError("onApply", thrown);
    } else if (error === undefined && consumed < entries.length) {
      // braft treats the entry the iterator stopped on as applied and goes on with the rest.
      this.host.warn(
        `onApply returned before the iterator reached the end (at index ${(entries[consumed] as LogEntry).index})`,
      );
      consumed++;
    }
    try {
      runEach(closures.slice(0, consumed), (closure) => closure?.run(Status.OK()));
    } catch (closureError) {
      error ??= RaftError.is(closureError) ? closureError : nodeFailureOf(closureError);
    }
    if (consumed > 0) this.advance((entries[consumed - 1] as LogEntry).index);
    if (error !== undefined) this.fail(error, closures.slice(consumed));
  }

  /** Stops applying and fails the entries not applied; the node enters ERROR. */
  private fail(error: RaftError, unapplied: readonly (Closure | undefined)[]): void {
    try {
      runEach(unapplied, (closure) => closure?.run(Status.fromError(error)));
    } catch (closureError) {
      this.host.warn(`a done closure threw while failing: ${stackOf(closureError) ?? String(closureError)}`);
    }
    this.setError(error);
    this.host.onStateMachineError(error);
  }

  /**
   * Stops applying for good and tells the state machine through onError, after whatever is
   * already queued. Idempotent: only the first error is reported.
   */
  setError(error: RaftError): void {
    if (this.error !== undefined) return;
    this.error = error;
    this.tasks.push({ type: "error", error });
    if (!this.running) void this.run();
  }

  private advance(index: number): void {
    this.appliedIndex = index;
    this.host.onApplied(index);
  }

  /**
   * Runs one state machine callback. A throw or rejection stops the node (it is thrown on as
   * ESTATEMACHINE, to the queue's catch), except with `onFailure: "log"`: onError (the node is
   * stopped already) and onShutdown (it is stopping), where there is nothing left to stop.
   */
  private async callback(
    name: string,
    call: () => void | Promise<void>,
    onFailure: "stop" | "log" = "stop",
  ): Promise<void> {
    try {
      await call();
    } catch (error) {
      if (onFailure === "stop") throw stateMachineError(name, error);
      this.host.warn(`${name} threw: ${stackOf(error) ?? String(error)}`);
    }
  }
}

/**
 * Guards a user closure so the framework's fallback run after onApply cannot run it twice. The
 * guard inherits from the user's object, so `iter.done` still exposes its fields and passes
 * `instanceof` (braft code reaches the request through its own closure type).
 */
function onceClosure(closure: Closure | undefined): ApplyClosure | undefined {
  // apply()'s own closure already runs once; wrapping it would cost a prototype object per entry.
  if (closure === undefined || closure instanceof PromiseClosure) return closure;
  let ran = false;
  const once = Object.create(closure) as ApplyClosure;
  once.run = (status: Status): void => {
    if (ran) return;
    ran = true;
    closure.run(status);
  };
  const setResult = (closure as ApplyClosure).setResult;
  // Bound to the user's object: called through the guard, `this` would be the guard.
  if (typeof setResult === "function") once.setResult = (value: unknown) => setResult.call(closure, value);
  return once;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === "function";
}
