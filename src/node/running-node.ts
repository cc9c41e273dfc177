/**
 * RunningNode: the async shell around the pure core, as init builds it (RaftNode holds one and
 * keeps the public API).
 *
 * Every input (RPC, answer, timer, apply) goes into the core synchronously; a microtask later the
 * node drains the core's Ready: it hands persistence to the LogManager, sends what may go at
 * once, releases replies and vote requests when their persistence completes, feeds committed
 * entries to the FSMCaller and re-arms one timer at the core's next deadline.
 */
import { EntryType, type LogEntry } from "../core/types.js";
import { RaftError } from "../core/errors.js";
import type { CoreEvent, Ready, Send } from "../core/events.js";
import type {
  InboundRequest,
  QuiesceRequest,
  QuiesceResponse,
  ReadIndexResponse,
  Reply,
} from "../core/messages.js";
import type { RaftCore } from "../core/raft.js";
import type { CancelTimer, Env } from "../env/env.js";
import { isEnabled, type Logger } from "../env/logger.js";
import type { NodeAdmin, RaftService } from "./ports.js";
import { ApplyQueue, PromiseClosure } from "./apply-queue.js";
import { ClosureQueue } from "./closure-queue.js";
import { LeaderStartClosure } from "./fsm-caller.js";
import { assembleNode, type OpenedNode, type PreparedNode } from "./node-init.js";
import { nodeStatusOf, type NodeStatus } from "./node-status.js";
import { PeerId } from "./peer-id.js";
import { PendingOperation } from "./pending-operation.js";
import { ReadWaiters } from "./read-waiters.js";
import { Replicator } from "./replicator.js";
import { Status } from "./closure.js";
import { nodeFailureOf, runEach, stackOf } from "./user-code.js";
import { refusalOf, type Lifecycle } from "./lifecycle.js";
import { NodeChangeLog } from "./node-change-log.js";
import { NodeQuiescence } from "./node-quiescence.js";

/** The core's answer to a peer's request (an error reply rejects instead). */
type Answer = Exclude<Reply, { kind: "error" }>;

interface PendingReply {
  resolve(answer: Answer): void;
  reject(error: unknown): void;
}

/** The answer of the kind asked; the core answers each request in its own kind. */
function answerOf<K extends Answer["kind"]>(answer: Answer, kind: K): Extract<Answer, { kind: K }> {
  if (isAnswerOf(answer, kind)) return answer;
  throw new RaftError("ERAFTINTERNAL", `the core answered a ${kind} request with ${answer.kind}`);
}

function isAnswerOf<K extends Answer["kind"]>(
  answer: Answer,
  kind: K,
): answer is Extract<Answer, { kind: K }> {
  return answer.kind === kind;
}

/** The identity a running node reports under (RaftNode's). */
export interface NodeIdentity {
  readonly groupId: string;
  readonly peerId: PeerId;
  readonly nodeId: string;
}

/**
 * braft's NodeImpl after init: every part built whole (core, LogManager, FSMCaller, snapshot
 * executor, replicators, closure queue), the drive loop that feeds the core and performs its
 * effects, the RPC service, timers, and the one ERROR path and the one shutdown path. RaftNode
 * holds one from a successful init on and keeps the public API.
 */
export class RunningNode {
  readonly groupId: string;
  readonly peerId: PeerId;
  readonly nodeId: string;
  readonly parts: PreparedNode;
  readonly env: Env;
  /** The node's logger (its group and peer on every line). */
  readonly logger: Logger;
  #lifecycle: Lifecycle = "initializing";
  readonly applyQueue = new ApplyQueue();
  readonly closureQueue = new ClosureQueue();
  readonly replicators = new Map<string, Replicator>();
  readonly readWaiters: ReadWaiters;
  readonly pendingTransfer = new PendingOperation("leadership transfer");
  readonly pendingChange = new PendingOperation("configuration change");
  #fatalError: RaftError | undefined;
  /** The snapshot timer's period and next firing, for raft_stat; undefined while it is off. */
  private snapshotTimer: { readonly intervalMs: number; readonly dueAtMs: number } | undefined;

  /** "initializing" until `start` registered the node with its server; changed only here. */
  get lifecycle(): Lifecycle {
    return this.#lifecycle;
  }

  /** Set once, when the node enters braft's ERROR state. */
  get fatalError(): RaftError | undefined {
    return this.#fatalError;
  }
  private readonly pendingReplies = new Map<number, PendingReply>();
  private nextReplyId = 1;
  private driveScheduled = false;
  /** The apply point of the last Ready the drive loop handled (the FSMCaller applies up to it). */
  private applyThroughIndex = 0;
  private cancelTimer: CancelTimer | undefined;
  private cancelSnapshotTimer: CancelTimer | undefined;
  private armedDeadlineMs = Number.POSITIVE_INFINITY;
  private shutdownPromise: Promise<void> | undefined;
  /** Logs term, configuration and role changes once each. */
  private readonly changeLog: NodeChangeLog;
  /** Quiet groups: Quiesce messages, the process liveness they wait on (docs/quiescence.md). */
  private readonly quiescence: NodeQuiescence;

  /** Builds the parts init opened into a node; it takes no input until `start`. */
  constructor(identity: NodeIdentity, opened: OpenedNode, env: Env) {
    this.groupId = identity.groupId;
    this.peerId = identity.peerId;
    this.nodeId = identity.nodeId;
    this.env = env;
    this.logger = opened.logger;
    this.readWaiters = new ReadWaiters(env);
    this.parts = assembleNode(opened, {
      closureQueue: this.closureQueue,
      fsmHost: {
        onApplied: (index) => this.onApplied(index),
        onStateMachineError: (error) => this.fail(error),
        warn: (message) => this.warn(message),
      },
      snapshotHost: {
        configurationAt: (index) => this.parts.core.confs.at(index).conf,
        finishInstall: (replyId, meta, logReset) => {
          this.withCore((core) => core.finishInstall(replyId, meta, logReset));
          // The state machine holds the snapshot: reads confirmed at an index it covers are
          // answered now, not at the next applied entry (there may be none for a while).
          if (meta !== undefined) this.readWaiters.applied(meta.lastIncludedIndex);
        },
        fail: (error) => this.fail(error),
      },
    });
    this.changeLog = new NodeChangeLog(this.logger, this.parts);
    this.quiescence = new NodeQuiescence(this.parts.server.liveness, {
      groupId: this.groupId,
      self: this.peerId.toString(),
      electionTimeoutMs: this.parts.electionTimeoutMs,
      rpcTimeoutMs: this.parts.rpcTimeoutMs,
      nowMs: () => this.env.nowMs(),
      withCore: (step) => this.withCore(step),
    });
  }

  /**
   * Joins the server (peers' RPCs and `admin` reach this node from now on), logs what was
   * restored, and runs: a sole voter campaigns at once, the snapshot timer is armed.
   */
  start(admin: NodeAdmin, snapshotIntervalS: number): void {
    this.parts.server.registerNode(this.groupId, this.peerId.toString(), { ...this.service(), admin });
    this.changeLog.started();
    this.#lifecycle = "running";
    this.withCore((core) => core.campaignIfSoleVoter(this.env.nowMs()));
    this.armSnapshotTimer(snapshotIntervalS);
  }

  /** The page data of this node (NodeStatus). */
  status(): NodeStatus {
    return nodeStatusOf(this, this.parts, {
      lifecycle: this.#lifecycle,
      replicators: this.replicators,
      pendingApplies: this.closureQueue.size,
      pendingIndex: this.closureQueue.firstPendingIndex,
      snapshotTimer: this.snapshotTimer,
      nowMs: this.env.nowMs(),
    });
  }

  /** Why this node takes no operation now; each such refusal happens before anything is proposed. */
  refusal(): RaftError | undefined {
    return refusalOf(this.#lifecycle, this.#fatalError);
  }

  /**
   * Saves a snapshot now (RaftNode's `snapshot`, and the snapshot timer's). EINVAL without
   * snapshot storage, EBUSY while one is in progress.
   */
  snapshot(): Promise<void> {
    const executor = this.parts.snapshotExecutor;
    const refusal = this.refusal();
    if (refusal !== undefined) return Promise.reject(refusal);
    if (executor === undefined)
      return Promise.reject(new RaftError("EINVAL", "node has no snapshot storage"));
    return executor.snapshot();
  }

  /** Stops the node; idempotent. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.stop();
    return this.shutdownPromise;
  }

  startReadInCore(id: number): void {
    this.withCore((core) => {
      const error = core.readIndex(id, this.env.nowMs());
      if (error !== undefined) this.readWaiters.fail([id], error);
    });
  }

  /** Leader side of tsraft's read_index RPC: answers once leadership is confirmed. */
  private serveReadIndex(): Promise<ReadIndexResponse> {
    if (this.#lifecycle !== "running" || this.parts.core.role !== "leader") {
      return Promise.reject(this.parts.core.notLeaderError());
    }
    const timeoutMs = this.parts.electionTimeoutMs;
    return this.readWaiters
      .add(timeoutMs, undefined, (id) => this.startReadInCore(id), false)
      .then(({ index }) => ({ index, success: true }));
  }
  // ---- RPCs from peers ---------------------------------------------------------------------

  private service(): RaftService {
    return {
      requestVote: (request) =>
        this.handleRequest({ kind: "vote", request }, (a) => answerOf(a, "vote").response),
      appendEntries: (request) =>
        this.handleRequest({ kind: "append", request }, (a) => answerOf(a, "append").response),
      timeoutNow: (request) =>
        this.handleRequest({ kind: "timeoutNow", request }, (a) => answerOf(a, "timeoutNow").response),
      installSnapshot: (request) =>
        this.handleRequest(
          { kind: "installSnapshot", request },
          (a) => answerOf(a, "installSnapshot").response,
        ),
      readIndex: () => this.serveReadIndex(),
      quiesce: (request) => this.serveQuiesce(request),
    };
  }

  /** Follower side of tsraft's quiesce RPC: answered at once (it vouches for nothing on disk). */
  private serveQuiesce(request: QuiesceRequest): Promise<QuiesceResponse> {
    if (this.#lifecycle !== "running") {
      return Promise.reject(new RaftError("EINVAL", `node ${this.nodeId} is not running`));
    }
    let response: QuiesceResponse = { term: this.parts.core.term, success: false };
    this.withCore((core) => {
      response = this.quiescence.serveQuiesce(request, core);
    });
    return Promise.resolve(response);
  }

  /**
   * Steps a peer's request into the core; its promise settles with the core's reply, read by
   * `responseOf` in the same call (no extra microtask between the reply and the RPC's answer).
   */
  private handleRequest<R>(input: InboundRequest, responseOf: (answer: Answer) => R): Promise<R> {
    if (this.#lifecycle !== "running") {
      return Promise.reject(new RaftError("EINVAL", `node ${this.nodeId} is not running`));
    }
    if (
      input.kind === "append" &&
      input.request.entries.length > 0 &&
      this.parts.snapshotExecutor?.installing
    ) {
      // braft: entries wait until the snapshot in progress is loaded and the log reset.
      return Promise.reject(new RaftError("EBUSY", `node ${this.nodeId} is installing a snapshot`));
    }
    return new Promise((resolve, reject) => {
      const replyId = this.nextReplyId++;
      const settle = (answer: Answer): void => {
        try {
          resolve(responseOf(answer));
        } catch (error) {
          reject(error);
        }
      };
      this.pendingReplies.set(replyId, { resolve: settle, reject });
      this.withCore((c) => {
        this.quiescence.beforeRequest(c, input);
        c.stepRequest(input, replyId, this.env.nowMs());
      });
    });
  }

  private deliverReply(reply: Reply): void {
    const pending = this.pendingReplies.get(reply.replyId);
    if (pending === undefined) return;
    this.pendingReplies.delete(reply.replyId);
    if (reply.kind === "error") pending.reject(new RaftError(reply.code, reply.text));
    else pending.resolve(reply);
  }

  // ---- the drive loop ----------------------------------------------------------------------

  /** Schedules one drain of the core's outputs after the current synchronous work. */
  kick(): void {
    if (this.driveScheduled || this.#lifecycle !== "running") return;
    this.driveScheduled = true;
    queueMicrotask(() => {
      this.driveScheduled = false;
      this.drive();
    });
  }

  private drive(): void {
    if (this.#lifecycle !== "running") return;
    this.withCore((core) => {
      // braft's apply queue: at most raft_apply_batch tasks per proposal, each batch its own
      // log write job (the LogManager merges jobs that queue behind a running write).
      do {
        this.proposeQueued(core);
        while (core.hasReady()) {
          const ready = core.takeReady();
          this.handleReady(ready);
          this.applyThroughIndex = ready.applyThroughIndex;
        }
      } while (this.applyQueue.length > 0 && this.lifecycle === "running");
      this.parts.fsmCaller.onCommitted(this.applyThroughIndex);
      this.changeLog.noticeChanges(core);
      this.quiescence.watchPeers(core);
    }, false);
    this.armTimer();
  }

  private proposeQueued(core: RaftCore): void {
    if (this.applyQueue.length === 0) return;
    const tasks = this.applyQueue.take(this.parts.flags.raft_apply_batch);
    if (
      core.role === "leader" &&
      this.closureQueue.size + tasks.length > this.parts.flags.tsraft_max_pending_applies
    ) {
      const busy = Status.error(
        "EBUSY",
        `more than ${this.parts.flags.tsraft_max_pending_applies} applies pending`,
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

  private handleReady(ready: Ready): void {
    for (const event of ready.events) this.handleEvent(event);
    for (const send of ready.sendsNow) this.send(send);
    const mustPersist = ready.hardState !== undefined || ready.entries.length > 0;
    const after = ready.sendsAfterPersist.length > 0 || ready.replies.length > 0;
    if (!mustPersist && !after) return;
    if (!mustPersist && this.parts.logManager.idle) {
      // Nothing of ours is in flight to disk, so what these answers claim is durable already:
      // answer now instead of a round through the write queue (a heartbeat's common case).
      this.sendPersistedAnswers(ready);
      return;
    }
    const lastEntry: LogEntry | undefined = ready.entries[ready.entries.length - 1];
    this.parts.logManager.persist({ hardState: ready.hardState, entries: ready.entries }).then(
      () => {
        if (this.#lifecycle !== "running") return;
        this.withCore((core) => {
          if (lastEntry !== undefined) core.onPersisted(lastEntry.index, lastEntry.term, this.env.nowMs());
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

  private handleEvent(event: CoreEvent): void {
    const fsmCaller = this.parts.fsmCaller;
    switch (event.type) {
      case "leaderStart":
        this.parts.metrics.leaderChanged();
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
          this.parts.metrics.leaderChanged();
          this.logger.info("following a new leader", { leader: event.leaderId, term: event.term });
        }
        const status = start ? Status.OK() : Status.error("EPERM", event.reason);
        fsmCaller.onFollowing(start, { leaderId: PeerId.parse(event.leaderId), term: event.term, status });
        return;
      }
      case "roleChanged":
        this.changeLog.noticeRole(event.role, event.term);
        return;
      case "electionStarted":
        this.parts.metrics.electionStarted(event.preVote);
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
      case "quiesced":
      case "woke":
        this.quiescence.onEvent(event, this.parts.core);
        return;
      case "installSnapshot": {
        const executor = this.parts.snapshotExecutor;
        if (executor !== undefined) executor.install(event.replyId, event.request);
        else this.parts.core.finishInstall(event.replyId, undefined, false);
        return;
      }
    }
  }

  private send(send: Send): void {
    const to = send.message.to;
    let replicator = this.replicators.get(to);
    if (replicator === undefined) {
      const prepared = this.parts;
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
            if (isEnabled(this.logger, "debug")) this.changeLog.rpcFailed(s, error);
            // braft's Replicator::_block: a follower that answered EBUSY (overloaded) or EINTR
            // rests raft_retry_replicate_interval_ms before the leader sends it entries again.
            const retryAfterMs = isBusyAnswer(error)
              ? prepared.flags.raft_retry_replicate_interval_ms
              : undefined;
            this.withCore((core) =>
              core.stepResponse({ kind: "failure", send: s, retryAfterMs }, this.env.nowMs()),
            );
          },
          openSnapshot: async () => (await this.parts.snapshotExecutor?.openForSend()) ?? undefined,
        },
        () => this.env.nowMs(),
        prepared.flags.raft_max_body_size,
      );
      this.replicators.set(to, replicator);
    }
    replicator.send(send);
  }

  /**
   * Keeps a timer armed for the core's next deadline. A deadline that moved later leaves the timer
   * armed for the earlier one: it fires early, the tick finds nothing due, and the drive after it
   * arms the timer again. A follower's election deadline moves with every AppendEntries:
   * cancelling and setting its timer for each cost about 5% of the servers' CPU per write at one
   * caller (docs/benchmarks.md, "One caller: where the servers' CPU goes").
   */
  private armTimer(): void {
    if (this.#lifecycle !== "running") return;
    const deadline = this.parts.core.nextDeadlineMs();
    if (deadline >= this.armedDeadlineMs) return;
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
  withCore(step: (core: RaftCore) => void, kickAfter = true): void {
    if (this.#lifecycle !== "running") return;
    try {
      step(this.parts.core);
    } catch (error) {
      this.fail(nodeFailureOf(error));
      return;
    }
    if (kickAfter) this.kick();
  }

  private onApplied(index: number): void {
    this.withCore((core) => core.onApplied(index));
    this.readWaiters.applied(index);
  }

  /** braft's ERROR state: stop leading and following, fail every pending apply, tell the state machine. */
  private fail(error: RaftError): void {
    if (this.#fatalError !== undefined) return;
    this.#fatalError = error;
    this.logger.error("node entered the ERROR state", {
      code: error.code,
      error: error.message,
      stack: stackOf(error),
    });
    const core = this.parts.core;
    this.contained("leaving quiescence", () => this.quiescence.stop(core));
    this.parts.fsmCaller.setError(error);
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
  private contained(what: string, step: () => void): void {
    try {
      step();
    } catch (error) {
      this.logger.error(`${what} threw`, { error: String(error), stack: stackOf(error) });
    }
  }

  private async stop(): Promise<void> {
    const prepared = this.parts;
    const wasRunning = this.#lifecycle === "running";
    this.#lifecycle = "shutting";
    this.cancelTimer?.();
    this.cancelSnapshotTimer?.();
    this.snapshotTimer = undefined;
    prepared.server.unregisterNode(this.groupId, this.peerId.toString());
    this.contained("leaving quiescence", () => this.quiescence.stop(prepared.core));
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
    this.#lifecycle = "shutdown";
    prepared.metrics.close();
    this.logger.info("node shut down", { term: prepared.core.term });
  }

  /**
   * A leader shutting down wakes its most up-to-date follower with TimeoutNow (braft does), so a
   * new leader appears at once instead of after an election timeout.
   */
  private handOverLeadership(core: RaftCore): void {
    try {
      core.handOverLeadership(this.env.nowMs());
      while (core.hasReady()) this.handleReady(core.takeReady());
    } catch (error) {
      this.warn(`handing over leadership failed: ${String(error)}`);
    }
  }

  /** braft's snapshot timer: a snapshot every interval (<= 0 disables it). */
  private armSnapshotTimer(intervalS: number): void {
    if (intervalS <= 0 || this.parts.snapshotExecutor === undefined) return;
    this.snapshotTimer = { intervalMs: intervalS * 1000, dueAtMs: this.env.nowMs() + intervalS * 1000 };
    this.cancelSnapshotTimer = this.env.setTimer(() => {
      if (this.#lifecycle !== "running" || this.#fatalError !== undefined) return;
      this.snapshot().catch((error: unknown) => {
        if (!(RaftError.is(error) && error.code === "EBUSY")) this.warn(`snapshot failed: ${String(error)}`);
      });
      this.armSnapshotTimer(intervalS);
    }, intervalS * 1000);
  }

  private warn(message: string): void {
    this.logger.warn(message);
  }
}

/** The answers after which braft's replicator blocks for raft_retry_replicate_interval_ms. */
function isBusyAnswer(error: unknown): boolean {
  return RaftError.is(error) && (error.code === "EBUSY" || error.code === "EINTR");
}
