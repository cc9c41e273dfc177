/**
 * NodeShell: the async shell around the pure core (RaftNode adds the public API on top).
 *
 * Every input (RPC, answer, timer, apply) goes into the core synchronously; a microtask later the
 * node drains the core's Ready: it hands persistence to the LogManager, sends what may go at
 * once, releases replies and vote requests when their persistence completes, feeds committed
 * entries to the FSMCaller and re-arms one timer at the core's next deadline.
 */
import { EntryType, type LogEntry } from "../core/types.js";
import { RaftError } from "../core/errors.js";
import type { CoreEvent, Ready, Send } from "../core/events.js";
import type { InboundRequest, Reply } from "../core/messages.js";
import type { RaftCore } from "../core/raft.js";
import type { ConfigurationData, Role } from "../core/types.js";
import { realEnv, type CancelTimer, type Env } from "../env/env.js";
import { globalLogger, isEnabled, type Logger } from "../env/logger.js";
import type { RaftService } from "./ports.js";
import { ApplyQueue, PromiseClosure } from "./apply-queue.js";
import { ClosureQueue } from "./closure-queue.js";
import { LeaderStartClosure } from "./fsm-caller.js";
import type { PreparedNode } from "./node-init.js";
import { PeerId } from "./peer-id.js";
import { PendingOperation } from "./pending-operation.js";
import { ReadWaiters } from "./read-waiters.js";
import { Replicator } from "./replicator.js";
import { Status } from "./status.js";
import { nodeFailureOf, runEach, stackOf } from "./user-code.js";

interface PendingReply {
  resolve(response: unknown): void;
  reject(error: unknown): void;
}

/** A configuration as one comparable string (for logging changes only). */
export function confText(conf: ConfigurationData): string {
  return `${conf.peers.join(",")}|${conf.oldPeers?.join(",") ?? ""}|${conf.learners?.join(",") ?? ""}`;
}

/** braft's default snapshot_interval_s. */
export const DEFAULT_SNAPSHOT_INTERVAL_S = 3600;

export type Lifecycle = "uninitialized" | "initializing" | "running" | "shutting" | "shutdown";

/**
 * The machinery under RaftNode: its state, the drive loop that feeds the core and performs its
 * effects, the RPC service, timers and the ERROR and shutdown paths. RaftNode adds the public API.
 */
export abstract class NodeShell {
  /** Saves a snapshot now (RaftNode's public `snapshot`), used by the snapshot timer. */
  abstract snapshot(): Promise<void>;
  readonly groupId: string;
  readonly peerId: PeerId;
  protected lifecycle: Lifecycle = "uninitialized";
  protected prepared: PreparedNode | undefined;
  protected env: Env = realEnv;
  protected readonly applyQueue = new ApplyQueue();
  protected readonly closureQueue = new ClosureQueue();
  protected readonly replicators = new Map<string, Replicator>();
  protected readonly pendingReplies = new Map<number, PendingReply>();
  protected readWaiters = new ReadWaiters(realEnv);
  protected readonly pendingTransfer = new PendingOperation("leadership transfer");
  protected readonly pendingChange = new PendingOperation("configuration change");
  protected nextReplyId = 1;
  protected driveScheduled = false;
  /** The apply point of the last Ready the drive loop handled (the FSMCaller applies up to it). */
  private applyThroughIndex = 0;
  protected cancelTimer: CancelTimer | undefined;
  protected cancelSnapshotTimer: CancelTimer | undefined;
  /** The snapshot timer's period and next firing, for raft_stat; undefined while it is off. */
  protected snapshotTimer: { readonly intervalMs: number; readonly dueAtMs: number } | undefined;
  protected armedDeadlineMs = Number.POSITIVE_INFINITY;
  protected shutdownPromise: Promise<void> | undefined;
  protected fatalError: RaftError | undefined;
  /** What was last logged, so term and configuration changes are logged once each. */
  protected logged: { term: number; confIndex: number; conf: string; role: Role | undefined } = {
    term: 0,
    confIndex: -1,
    conf: "",
    role: undefined,
  };

  constructor(groupId: string, peerId: PeerId | string) {
    if (groupId.length === 0) throw new RaftError("EINVAL", "group id must not be empty");
    this.groupId = groupId;
    this.peerId = PeerId.from(peerId);
  }

  /** braft's NodeId: `<group>:<peer>`. */
  get nodeId(): string {
    return `${this.groupId}:${this.peerId.toString()}`;
  }

  get term(): number {
    return this.prepared?.core.term ?? 0;
  }

  protected startReadInCore(id: number): void {
    this.withCore((core) => {
      const error = core.readIndex(id, this.env.nowMs());
      if (error !== undefined) this.readWaiters.fail([id], error);
    });
  }

  /** Leader side of tsraft's read_index RPC: answers once leadership is confirmed. */
  protected serveReadIndex(): Promise<unknown> {
    if (this.lifecycle !== "running" || this.prepared?.core.role !== "leader") {
      return Promise.reject(
        this.prepared?.core.notLeaderError() ?? new RaftError("EPERM", "node is not running"),
      );
    }
    const timeoutMs = this.prepared.electionTimeoutMs;
    return this.readWaiters
      .add(timeoutMs, undefined, (id) => this.startReadInCore(id), false)
      .then(({ index }) => ({ index, success: true }));
  }
  // ---- RPCs from peers ---------------------------------------------------------------------

  protected service(): RaftService {
    return {
      requestVote: (request) => this.handleRequest({ kind: "vote", request }) as never,
      appendEntries: (request) => this.handleRequest({ kind: "append", request }) as never,
      timeoutNow: (request) => this.handleRequest({ kind: "timeoutNow", request }) as never,
      installSnapshot: (request) => this.handleRequest({ kind: "installSnapshot", request }) as never,
      readIndex: () => this.serveReadIndex() as never,
    };
  }

  protected handleRequest(input: InboundRequest): Promise<unknown> {
    const core = this.prepared?.core;
    if (core === undefined || this.lifecycle !== "running") {
      return Promise.reject(new RaftError("EINVAL", `node ${this.nodeId} is not running`));
    }
    if (
      input.kind === "append" &&
      input.request.entries.length > 0 &&
      this.prepared?.snapshotExecutor?.installing
    ) {
      // braft: entries wait until the snapshot in progress is loaded and the log reset.
      return Promise.reject(new RaftError("EBUSY", `node ${this.nodeId} is installing a snapshot`));
    }
    return new Promise((resolve, reject) => {
      const replyId = this.nextReplyId++;
      this.pendingReplies.set(replyId, { resolve, reject });
      this.withCore((c) => c.stepRequest(input, replyId, this.env.nowMs()));
    });
  }

  protected deliverReply(reply: Reply): void {
    const pending = this.pendingReplies.get(reply.replyId);
    if (pending === undefined) return;
    this.pendingReplies.delete(reply.replyId);
    if (reply.kind === "error") pending.reject(new RaftError(reply.code, reply.text));
    else pending.resolve(reply.response);
  }

  // ---- the drive loop ----------------------------------------------------------------------

  /** Schedules one drain of the core's outputs after the current synchronous work. */
  protected kick(): void {
    if (this.driveScheduled || this.lifecycle !== "running") return;
    this.driveScheduled = true;
    queueMicrotask(() => {
      this.driveScheduled = false;
      this.drive();
    });
  }

  protected drive(): void {
    const prepared = this.prepared;
    if (prepared === undefined || this.lifecycle !== "running") return;
    this.withCore((core) => {
      this.proposeQueued(core);
      while (core.hasReady()) {
        const ready = core.takeReady();
        this.handleReady(ready);
        this.applyThroughIndex = ready.applyThroughIndex;
      }
      prepared.fsmCaller.onCommitted(this.applyThroughIndex);
      this.logChanges(core);
    }, false);
    this.armTimer();
  }

  /** Logs a new term or configuration: two comparisons per drive, a line only when one changed. */
  protected logChanges(core: RaftCore): void {
    const logged = this.logged;
    if (core.term !== logged.term) {
      this.logger.info("term changed", { from: logged.term, to: core.term, role: core.role });
      logged.term = core.term;
    }
    const conf = core.confs.last();
    if (conf.id.index !== logged.confIndex) {
      // A new leader re-appends the configuration in force: only a different one is news.
      logged.confIndex = conf.id.index;
      const { peers, oldPeers, learners } = conf.conf;
      const text = confText(conf.conf);
      if (text === logged.conf) return;
      logged.conf = text;
      this.logger.info("configuration changed", {
        index: conf.id.index,
        term: conf.id.term,
        peers: peers.join(","),
        oldPeers: oldPeers?.join(","),
        learners: learners?.join(","),
      });
    }
  }

  /** The node's logger (its group and peer on every line); the process-wide one before init. */
  protected get logger(): Logger {
    return this.prepared?.logger ?? globalLogger;
  }

  protected proposeQueued(core: RaftCore): void {
    if (this.applyQueue.length === 0) return;
    const tasks = this.applyQueue.takeAll();
    if (
      core.role === "leader" &&
      this.closureQueue.size + tasks.length > this.prepared!.flags.tsraft_max_pending_applies
    ) {
      const busy = Status.error(
        "EBUSY",
        `more than ${this.prepared!.flags.tsraft_max_pending_applies} applies pending`,
        "refused",
      );
      runEach(tasks, (task) => task.closure.run(busy));
      return;
    }
    const proposals = tasks.map((task) => ({
      type: EntryType.DATA,
      data: task.data,
      expectedTerm: task.expectedTerm,
    }));
    const results = core.propose(proposals, this.env.nowMs());
    // Every accepted entry gets its closure registered before a refused task's closure can throw.
    const refused: { task: (typeof tasks)[number]; error: RaftError }[] = [];
    tasks.forEach((task, i) => {
      const result = results[i];
      if (result === undefined || RaftError.is(result)) {
        refused.push({ task, error: result ?? new RaftError("EIO", "no proposal result") });
        return;
      }
      if (task.closure instanceof PromiseClosure) task.closure.proposed = result;
      this.closureQueue.append(result.index, task.closure);
    });
    runEach(refused, ({ task, error }) => task.closure.run(Status.fromError(error).withOutcome("refused")));
  }

  protected handleReady(ready: Ready): void {
    for (const event of ready.events) this.handleEvent(event);
    for (const send of ready.sendsNow) this.send(send);
    const mustPersist = ready.hardState !== undefined || ready.entries.length > 0;
    const after = ready.sendsAfterPersist.length > 0 || ready.replies.length > 0;
    if (!mustPersist && !after) return;
    if (!mustPersist && this.prepared!.logManager.idle) {
      // Nothing of ours is in flight to disk, so what these answers claim is durable already:
      // answer now instead of a round through the write queue (a heartbeat's common case).
      this.sendPersistedAnswers(ready);
      return;
    }
    const lastEntry: LogEntry | undefined = ready.entries[ready.entries.length - 1];
    this.prepared!.logManager.persist({ hardState: ready.hardState, entries: ready.entries }).then(
      () => {
        if (this.lifecycle !== "running") return;
        this.withCore((core) => {
          if (lastEntry !== undefined) core.onPersisted(lastEntry.index, lastEntry.term);
          this.sendPersistedAnswers(ready);
        });
      },
      (error: unknown) => this.fail(RaftError.is(error) ? error : new RaftError("EIO", String(error))),
    );
  }

  /** The messages and replies of `ready` that had to wait until its writes were durable. */
  private sendPersistedAnswers(ready: Ready): void {
    for (const send of ready.sendsAfterPersist) this.send(send);
    for (const reply of ready.replies) this.deliverReply(reply);
  }

  protected handleEvent(event: CoreEvent): void {
    const fsmCaller = this.prepared!.fsmCaller;
    switch (event.type) {
      case "leaderStart":
        this.prepared!.metrics.leaderChanged();
        this.logger.info("election won: leading", { term: event.term });
        this.closureQueue.append(event.confIndex, new LeaderStartClosure(event.term));
        return;
      case "leaderStop": {
        this.logger.info("stepped down", { term: event.term, reason: event.reason });
        for (const replicator of this.replicators.values()) replicator.releaseSnapshot();
        const status = Status.error("EPERM", `leader stepped down: ${event.reason}`);
        this.closureQueue.clear(status);
        this.applyQueue.failAll(new RaftError("EPERM", "leader stepped down"));
        fsmCaller.onLeaderStop(event.term, status);
        return;
      }
      case "startFollowing":
      case "stopFollowing": {
        const start = event.type === "startFollowing";
        if (start) {
          this.prepared!.metrics.leaderChanged();
          this.logger.info("following a new leader", { leader: event.leaderId, term: event.term });
        }
        const status = start ? Status.OK() : Status.error("EPERM", event.reason);
        fsmCaller.onFollowing(start, { leaderId: PeerId.parse(event.leaderId), term: event.term, status });
        return;
      }
      case "roleChanged":
        this.noticeRole(event.role, event.term);
        return;
      case "electionStarted":
        this.prepared!.metrics.electionStarted(event.preVote);
        this.logger.info(event.preVote ? "pre-vote started" : "election started", {
          term: event.preVote ? event.term + 1 : event.term,
        });
        return;
      case "changeDone":
        if (event.error === undefined) this.logger.info("configuration change done");
        else this.logger.warn("configuration change failed", { error: event.error.message });
        this.pendingChange.finish(event.error);
        return;
      case "transferStarted":
        this.logger.info("transferring leadership", { to: event.target, term: event.term });
        fsmCaller.onLeaderStop(
          event.term,
          Status.error("ETRANSFERLEADERSHIP", `raft leader is transferring leadership to ${event.target}`),
        );
        return;
      case "leaderResumed":
        this.logger.info("leadership transfer timed out: leading on", { term: event.term });
        fsmCaller.onLeaderStart(event.term);
        return;
      case "transferEnded":
        this.pendingTransfer.finish(
          event.succeeded
            ? undefined
            : // TimeoutNow may be on its way: the target may still win an election.
              new RaftError("ERAFTTIMEDOUT", `leadership transfer failed: ${event.reason}`, {
                outcome: "unknown",
              }),
        );
        return;
      case "readIndexReady":
        this.readWaiters.confirmed(event.reads, fsmCaller.lastAppliedIndex);
        return;
      case "readIndexFailed":
        this.readWaiters.fail(
          event.ids,
          new RaftError("EPERM", `leadership lost before the read was confirmed: ${event.reason}`),
        );
        return;
      case "installSnapshot": {
        const executor = this.prepared!.snapshotExecutor;
        if (executor !== undefined) executor.install(event.replyId, event.request);
        else this.prepared!.core.finishInstall(event.replyId, undefined, false);
        return;
      }
    }
  }

  protected send(send: Send): void {
    const to = send.message.to;
    let replicator = this.replicators.get(to);
    if (replicator === undefined) {
      const prepared = this.prepared!;
      replicator = new Replicator(
        to,
        prepared.client,
        prepared.rpcTimeoutMs,
        {
          onResponse: (s, response) =>
            this.withCore((core) =>
              core.stepResponse({ kind: "response", send: s, response }, this.env.nowMs()),
            ),
          onFailure: (s, error) => {
            if (isEnabled(this.logger, "debug")) this.logRpcFailure(s, error);
            this.withCore((core) => core.stepResponse({ kind: "failure", send: s }, this.env.nowMs()));
          },
          openSnapshot: async () => (await this.prepared?.snapshotExecutor?.openForSend()) ?? undefined,
        },
        () => this.env.nowMs(),
        prepared.flags.raft_max_body_size,
      );
      this.replicators.set(to, replicator);
    }
    replicator.send(send);
  }

  /** An election that ends with this node following (not leading) was lost. */
  protected noticeRole(role: Role, term: number): void {
    const previous = this.logged.role;
    this.logged.role = role;
    if ((previous === "candidate" || previous === "preCandidate") && role === "follower") {
      this.logger.info("election lost", { term, as: previous });
    }
  }

  /** Debug only (the caller checks the level): one line per failed RPC to a peer. */
  protected logRpcFailure(send: Send, error: unknown): void {
    this.logger.debug("rpc to peer failed", {
      to: send.message.to,
      kind: send.message.kind,
      heartbeat: send.heartbeat,
      error: RaftError.is(error) ? `${error.code}: ${error.message}` : String(error),
    });
  }

  protected armTimer(): void {
    const core = this.prepared?.core;
    if (core === undefined || this.lifecycle !== "running") return;
    const deadline = core.nextDeadlineMs();
    if (deadline === this.armedDeadlineMs) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.armedDeadlineMs = deadline;
    if (deadline === Number.POSITIVE_INFINITY) return;
    this.cancelTimer = this.env.setTimer(() => {
      this.cancelTimer = undefined;
      this.armedDeadlineMs = Number.POSITIVE_INFINITY;
      this.withCore((c) => c.tick(this.env.nowMs()));
    }, deadline - this.env.nowMs());
  }

  /**
   * Runs an input through the core. Whatever it throws stops this node only (braft's ERROR state):
   * a `done` closure that threw is ESTATEMACHINE, a broken invariant or any other exception
   * ERAFTINTERNAL (a bug in tsraft, not in the state machine).
   */
  protected withCore(step: (core: RaftCore) => void, kickAfter = true): void {
    const core = this.prepared?.core;
    if (core === undefined || this.lifecycle !== "running") return;
    try {
      step(core);
    } catch (error) {
      this.fail(nodeFailureOf(error));
      return;
    }
    if (kickAfter) this.kick();
  }

  protected onApplied(index: number): void {
    this.withCore((core) => core.onApplied(index));
    this.readWaiters.applied(index);
  }

  /** Why this node takes no operation now; each such refusal happens before anything is proposed. */
  protected refuseApply(): RaftError | undefined {
    const refused = { outcome: "refused" } as const;
    if (this.lifecycle === "shutting" || this.lifecycle === "shutdown")
      return new RaftError("ESHUTDOWN", "node is shut down", refused);
    if (this.lifecycle !== "running") return new RaftError("EPERM", "node is not initialized", refused);
    if (this.fatalError !== undefined)
      return new RaftError("EPERM", `node is in the ERROR state: ${this.fatalError.message}`, refused);
    return undefined;
  }

  /** braft's ERROR state: stop leading and following, fail every pending apply, tell the state machine. */
  protected fail(error: RaftError): void {
    if (this.fatalError !== undefined || this.prepared === undefined) return;
    this.fatalError = error;
    this.logger.error("node entered the ERROR state", {
      code: error.code,
      error: error.message,
      stack: stackOf(error),
    });
    const core = this.prepared.core;
    this.prepared.fsmCaller.setError(error);
    this.contained("entering the ERROR state", () => core.enterError(error.message, this.env.nowMs()));
    for (const event of core.takeReady().events) {
      this.contained(`handling ${event.type} in the ERROR state`, () => this.handleEvent(event));
    }
    const status = Status.error("EPERM", `node is in the ERROR state: ${error.message}`);
    this.contained("failing pending applies", () => this.closureQueue.clear(status));
    this.contained("failing queued applies", () => this.applyQueue.failAll(status.toError()));
    this.readWaiters.failAll(status.toError());
    this.cancelTimer?.();
    this.armedDeadlineMs = Number.POSITIVE_INFINITY;
  }

  /** Runs `step` on a node that is stopping already: a throw can only be logged. */
  protected contained(what: string, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.logger.error(`${what} threw`, { error: String(error), stack: stackOf(error) });
    }
  }

  protected async doShutdown(): Promise<void> {
    const prepared = this.prepared;
    const wasRunning = this.lifecycle === "running";
    this.lifecycle = "shutting";
    if (prepared === undefined) {
      this.lifecycle = "shutdown";
      return;
    }
    this.cancelTimer?.();
    this.cancelSnapshotTimer?.();
    this.snapshotTimer = undefined;
    prepared.server.unregisterNode(this.groupId, this.peerId.toString());
    if (wasRunning && prepared.core.role === "leader") this.handOverLeadership(prepared.core);
    if (wasRunning) {
      this.contained("shutting the core down", () => prepared.core.shutdown(this.env.nowMs()));
      for (const event of prepared.core.takeReady().events) {
        this.contained(`handling ${event.type} at shutdown`, () => this.handleEvent(event));
      }
    }
    const stopped = new RaftError("ESHUTDOWN", `node ${this.nodeId} is shutting down`);
    this.contained("failing queued applies", () => this.applyQueue.failAll(stopped));
    this.readWaiters.failAll(stopped);
    this.contained("failing pending applies", () => this.closureQueue.clear(Status.fromError(stopped)));
    for (const pending of this.pendingReplies.values()) pending.reject(stopped);
    this.pendingReplies.clear();
    for (const replicator of this.replicators.values()) replicator.releaseSnapshot();
    await prepared.snapshotExecutor?.shutdown();
    await prepared.logManager.drain();
    await prepared.fsmCaller.shutdown();
    await prepared.logManager.close();
    this.lifecycle = "shutdown";
    prepared.metrics.close();
    this.logger.info("node shut down", { term: prepared.core.term });
  }

  /**
   * A leader shutting down wakes its most up-to-date follower with TimeoutNow (braft does), so a
   * new leader appears at once instead of after an election timeout.
   */
  protected handOverLeadership(core: RaftCore): void {
    try {
      core.handOverLeadership(this.env.nowMs());
      while (core.hasReady()) this.handleReady(core.takeReady());
    } catch (error) {
      this.warn(`handing over leadership failed: ${String(error)}`);
    }
  }

  /** braft's snapshot timer: a snapshot every interval (<= 0 disables it). */
  protected armSnapshotTimer(intervalS: number): void {
    if (intervalS <= 0 || this.prepared?.snapshotExecutor === undefined) return;
    this.snapshotTimer = { intervalMs: intervalS * 1000, dueAtMs: this.env.nowMs() + intervalS * 1000 };
    this.cancelSnapshotTimer = this.env.setTimer(() => {
      if (this.lifecycle !== "running" || this.fatalError !== undefined) return;
      this.snapshot().catch((error: unknown) => {
        if (!(RaftError.is(error) && error.code === "EBUSY")) this.warn(`snapshot failed: ${String(error)}`);
      });
      this.armSnapshotTimer(intervalS);
    }, intervalS * 1000);
  }

  protected warn(message: string): void {
    this.logger.warn(message);
  }
}
