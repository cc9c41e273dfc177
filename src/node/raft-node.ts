/**
 * RaftNode (braft's Node / NodeImpl): the async shell around the pure core.
 *
 * Every input (RPC, answer, timer, apply) goes into the core synchronously; a microtask later the
 * node drains the core's Ready: it hands persistence to the LogManager, sends what may go at
 * once, releases replies and vote requests when their persistence completes, feeds committed
 * entries to the FSMCaller and re-arms one timer at the core's next deadline.
 */
import { EntryType, type LogEntry } from "../core/types.js";
import { RaftError, InvariantError } from "../core/errors.js";
import type { CoreEvent, Ready, Send } from "../core/events.js";
import type { InboundRequest, Reply } from "../core/messages.js";
import type { RaftCore } from "../core/raft.js";
import { realEnv, type CancelTimer, type Env } from "../env/env.js";
import type { RaftService } from "../rpc/transport.js";
import { ApplyQueue, PromiseClosure, type ApplyResult, type Task } from "./apply-queue.js";
import { BallotBox } from "./ballot-box.js";
import { LeaderStartClosure } from "./fsm-caller.js";
import { nodeStatusOf, type NodeStatus } from "./node-status.js";
import { prepareNode, type PreparedNode } from "./node-init.js";
import type { NodeOptions } from "./options.js";
import { ANY_PEER, Configuration, PeerId } from "./peer-id.js";
import { PendingOperation } from "./pending-operation.js";
import { ReadWaiters, type ReadIndexResult } from "./read-waiters.js";
import { readCommittedUserLog, setElectionTimeout, type UserLog } from "./node-admin.js";
import { Replicator } from "./replicator.js";
import { Status } from "./status.js";

interface PendingReply {
  resolve(response: unknown): void;
  reject(error: unknown): void;
}

/** braft's default snapshot_interval_s. */
const DEFAULT_SNAPSHOT_INTERVAL_S = 3600;

type Lifecycle = "uninitialized" | "initializing" | "running" | "shutting" | "shutdown";

export class RaftNode {
  readonly groupId: string;
  readonly peerId: PeerId;
  private lifecycle: Lifecycle = "uninitialized";
  private prepared: PreparedNode | undefined;
  private env: Env = realEnv;
  private readonly applyQueue = new ApplyQueue();
  private readonly ballotBox = new BallotBox();
  private readonly replicators = new Map<string, Replicator>();
  private readonly pendingReplies = new Map<number, PendingReply>();
  private readWaiters = new ReadWaiters(realEnv);
  private readonly pendingTransfer = new PendingOperation("leadership transfer");
  private readonly pendingChange = new PendingOperation("configuration change");
  private nextReplyId = 1;
  private driveScheduled = false;
  private cancelTimer: CancelTimer | undefined;
  private cancelSnapshotTimer: CancelTimer | undefined;
  private armedDeadlineMs = Number.POSITIVE_INFINITY;
  private shutdownPromise: Promise<void> | undefined;
  private fatalError: RaftError | undefined;

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

  /** Starts the node: opens storage, restores state, joins the server. Rejects on any failure. */
  async init(options: NodeOptions): Promise<void> {
    if (this.lifecycle !== "uninitialized")
      throw new RaftError("EINVAL", `node ${this.nodeId} was already initialized`);
    this.lifecycle = "initializing";
    try {
      this.env = options.env ?? realEnv;
      this.readWaiters = new ReadWaiters(this.env);
      this.prepared = await prepareNode(this.groupId, this.peerId, options, this.env, {
        ballotBox: this.ballotBox,
        fsmHost: {
          onApplied: (index) => this.onApplied(index),
          onStateMachineError: (error) => this.fail(error),
          warn: (message) => this.warn(message),
        },
        snapshotHost: {
          configurationAt: (index) => this.prepared!.core.confs.at(index).conf,
          finishInstall: (replyId, meta, logReset) =>
            this.withCore((core) => core.finishInstall(replyId, meta, logReset)),
          fail: (error) => this.fail(error),
        },
      });
      options.server.registerNode(this.groupId, this.peerId.toString(), this.service());
      this.lifecycle = "running";
      this.withCore((core) => core.campaignIfSoleVoter(this.env.nowMs()));
      this.armSnapshotTimer(options.snapshotIntervalS ?? DEFAULT_SNAPSHOT_INTERVAL_S);
    } catch (error) {
      this.lifecycle = "shutdown";
      await this.prepared?.logManager.close().catch(() => undefined);
      this.prepared = undefined;
      throw RaftError.is(error)
        ? error
        : new RaftError("EIO", `init failed: ${String(error)}`, { cause: error });
    }
  }

  /**
   * Replicates `data` and resolves once it was committed and applied on this node, with the value
   * the state machine passed to `iter.done.setResult`. Rejects with EPERM (not leader, with the
   * leader's id when known), ESTALE (expectedTerm mismatch), EBUSY (too many pending applies),
   * ECANCELED (signal aborted; the entry may still be applied) or ESHUTDOWN.
   */
  apply(
    data: Uint8Array,
    options: { expectedTerm?: number; signal?: AbortSignal } = {},
  ): Promise<ApplyResult> {
    return new Promise((resolve, reject) => {
      const closure = new PromiseClosure(resolve, reject, options.signal, () => this.leaderId()?.toString());
      if (options.signal?.aborted === true) {
        closure.run(Status.error("ECANCELED", "apply was aborted by its signal"));
        return;
      }
      this.applyTask({ data, done: closure, expectedTerm: options.expectedTerm });
    });
  }

  /** braft's apply(Task): `done` runs exactly once with the outcome. */
  applyTask(task: Task): void {
    const closure = task.done ?? { run: () => undefined };
    const refusal = this.refuseApply();
    if (refusal !== undefined) {
      closure.run(Status.fromError(refusal));
      return;
    }
    if (!(task.data instanceof Uint8Array)) {
      closure.run(Status.error("EINVAL", "task data must be a Uint8Array"));
      return;
    }
    this.applyQueue.push({ data: task.data, closure, expectedTerm: task.expectedTerm });
    this.kick();
  }

  /**
   * A linearizable read (ReadIndex, beyond braft): resolves once this leader has confirmed with a
   * quorum that it still leads (or holds a valid lease, with raft_enable_leader_lease) and its
   * state machine has applied everything committed when the read arrived. Read the state machine
   * right after. Rejects with EPERM (not the leader, or leadership lost meanwhile; `leaderId` says
   * where to go), ERAFTTIMEDOUT (no quorum within `timeoutMs`, an election timeout by default),
   * ECANCELED (signal) or ESHUTDOWN.
   */
  readIndex(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ReadIndexResult> {
    const refusal = this.refuseApply();
    if (refusal !== undefined) return Promise.reject(refusal);
    const timeoutMs = options.timeoutMs ?? this.prepared?.electionTimeoutMs ?? 1000;
    return this.readWaiters.add(timeoutMs, options.signal, (id) =>
      this.withCore((core) => {
        const error = core.readIndex(id, this.env.nowMs());
        if (error !== undefined) this.readWaiters.fail([id], error);
      }),
    );
  }

  /**
   * braft's change_peers: moves the group to `conf` in stages (new peers catch up, then the joint
   * configuration, then the new one; a single-peer change skips the joint stage). Resolves when
   * the new configuration is committed. EPERM off the leader, EBUSY while another change runs,
   * ECATCHUP when a new peer does not catch up within an election timeout, EINVAL for a bad conf.
   */
  changePeers(conf: Configuration | string | readonly (PeerId | string)[]): Promise<void> {
    const refusal = this.refuseApply();
    if (refusal !== undefined) return Promise.reject(refusal);
    let target: Configuration;
    try {
      target = Configuration.from(conf);
    } catch (error) {
      return Promise.reject(error);
    }
    const data = { peers: target.peerKeys(), learners: target.learnerKeys() };
    return this.pendingChange.run(() =>
      this.startInCore((core) => core.changeConfiguration(data, this.env.nowMs())),
    );
  }

  /**
   * braft's reset_peers. UNSAFE: for a group that lost its majority for good. This node alone
   * adopts `conf` (no replication, no quorum agreed to it), moves to a new term and, if it is the
   * only voter, leads at once. Entries the lost majority committed but this node lacks are gone,
   * and if the "lost" nodes come back with the old configuration two groups can form. Use it only
   * when the other peers are known dead, then add fresh peers with addPeer.
   */
  resetPeers(conf: Configuration | string | readonly (PeerId | string)[]): Promise<void> {
    const refusal = this.refuseApply();
    if (refusal !== undefined) return Promise.reject(refusal);
    let target: Configuration;
    try {
      target = Configuration.from(conf);
    } catch (error) {
      return Promise.reject(error);
    }
    const data = { peers: target.peerKeys(), learners: target.learnerKeys() };
    const { error } = this.startInCore((core) => core.resetConfiguration(data, this.env.nowMs()));
    return error === undefined ? Promise.resolve() : Promise.reject(error);
  }

  /** Adds learners: they receive the log but never vote (beyond braft's classic API). */
  addLearners(learners: readonly (PeerId | string)[]): Promise<void> {
    return this.changeCurrent((conf) => new Configuration(conf.peers, [...conf.learners, ...learners]));
  }

  /** Removes learners. */
  removeLearners(learners: readonly (PeerId | string)[]): Promise<void> {
    const gone = new Set(learners.map((l) => PeerId.from(l).toString()));
    return this.changeCurrent(
      (conf) =>
        new Configuration(
          conf.peers,
          conf.learners.filter((l) => !gone.has(l.toString())),
        ),
    );
  }

  private changeCurrent(edit: (conf: Configuration) => Configuration): Promise<void> {
    const core = this.prepared?.core;
    if (core === undefined || core.role !== "leader") {
      return Promise.reject(core?.notLeaderError() ?? new RaftError("EPERM", "node is not initialized"));
    }
    try {
      const { peers, learners } = core.confs.last().conf;
      return this.changePeers(edit(new Configuration(peers, learners ?? [])));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** braft's add_peer: adds `peer` to the current configuration (already present: succeeds). */
  addPeer(peer: PeerId | string): Promise<void> {
    return this.changeCurrent((conf) => new Configuration([...conf.peers, peer], conf.learners));
  }

  /** braft's remove_peer: removes `peer`; a removed leader steps down and wakes a follower. */
  removePeer(peer: PeerId | string): Promise<void> {
    return this.changeCurrent((conf) => {
      const key = PeerId.from(peer).toString();
      return new Configuration(
        conf.peers.filter((p) => p.toString() !== key),
        conf.learners,
      );
    });
  }

  /**
   * Hands leadership to `peer` (braft's transfer_leadership_to), or to the most up-to-date
   * follower with ANY_PEER: applies are refused (EBUSY) while the target catches up, then it gets
   * TimeoutNow and starts an election at once. Resolves when this node stopped leading; rejects
   * with ERAFTTIMEDOUT if no new leader appeared within an election timeout (this node leads on),
   * EPERM off the leader, EINVAL for a peer outside the configuration, EHOSTUNREACH for a peer that
   * has not answered for an election timeout, EBUSY while another transfer runs.
   */
  transferLeadershipTo(peer: PeerId | string): Promise<void> {
    const refusal = this.refuseApply();
    if (refusal !== undefined) return Promise.reject(refusal);
    let target: string | undefined;
    try {
      const id = PeerId.from(peer);
      target = id.equals(ANY_PEER) ? undefined : id.toString();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.pendingTransfer.run(() =>
      this.startInCore(
        (core) => core.transferLeadership(target, this.env.nowMs()),
        (core) => core.transfer !== undefined,
      ),
    );
  }

  /** Starts a core operation; `started` tells whether it runs on (it may also end at once). */
  private startInCore(
    start: (core: RaftCore) => RaftError | undefined,
    running: (core: RaftCore) => boolean = () => true,
  ): { error: RaftError | undefined; started: boolean } {
    let outcome: { error: RaftError | undefined; started: boolean } = {
      error: new RaftError("EPERM", "node is not running"),
      started: false,
    };
    this.withCore((core) => {
      const error = start(core);
      outcome = { error, started: error === undefined && running(core) };
    });
    return outcome;
  }

  /** braft's enter_readonly_mode: this node stops accepting new entries (EREADONLY). */
  enterReadonlyMode(): void {
    this.withCore((core) => {
      core.readonly = true;
    });
  }

  /** braft's leave_readonly_mode. */
  leaveReadonlyMode(): void {
    this.withCore((core) => {
      core.readonly = false;
    });
  }

  /** Whether applies through this node fail with EREADONLY: it, or (on a leader) a quorum, is read-only. */
  readonly(): boolean {
    return this.prepared?.core.isReadOnly() ?? false;
  }

  /**
   * braft's is_leader_lease_valid: this leader may serve reads from its own state without asking a
   * quorum (only with raft_enable_leader_lease; always false otherwise).
   */
  isLeaderLeaseValid(): boolean {
    const prepared = this.prepared;
    if (prepared === undefined || !prepared.flags.raft_enable_leader_lease) return false;
    const now = this.env.nowMs();
    return prepared.core.leaseExpiresAtMs(now) > now;
  }

  /** braft's reset_election_timeout_ms: changes the election timeout (and heartbeat interval) now. */
  resetElectionTimeoutMs(electionTimeoutMs: number): void {
    if (!Number.isInteger(electionTimeoutMs) || electionTimeoutMs <= 0) {
      throw new RaftError("EINVAL", `election timeout must be a positive integer, got ${electionTimeoutMs}`);
    }
    this.withCore((core) =>
      setElectionTimeout(core, electionTimeoutMs, this.prepared!.flags, this.env.nowMs()),
    );
  }

  /**
   * braft's vote(election_timeout): sets the election timeout and has this follower start an
   * election now (for a node that should lead, e.g. after maintenance). EPERM unless a follower.
   */
  vote(electionTimeoutMs: number): void {
    if (this.prepared?.core.role !== "follower")
      throw new RaftError("EPERM", "only a follower can start a vote");
    this.resetElectionTimeoutMs(electionTimeoutMs);
    this.withCore((core) => core.campaign(this.env.nowMs()));
  }

  /**
   * braft's read_committed_user_log: the first DATA entry at or after `index`, skipping
   * configuration entries. EINVAL past the committed index, ELOGDELETED when compacted away,
   * ENOMOREUSERLOG when only non-data entries remain up to the committed index.
   */
  readCommittedUserLog(index: number): UserLog {
    if (this.prepared === undefined) throw new RaftError("EPERM", "node is not initialized");
    return readCommittedUserLog(this.prepared, index);
  }

  isLeader(): boolean {
    return this.prepared?.core.role === "leader";
  }

  /** The leader this node knows of, or undefined. */
  leaderId(): PeerId | undefined {
    const leader = this.prepared?.core.leaderId ?? "";
    return leader === "" ? undefined : PeerId.parse(leader);
  }

  /** The peers of the current configuration; only the leader's view is authoritative (EPERM elsewhere). */
  listPeers(): PeerId[] {
    const core = this.prepared?.core;
    if (core === undefined || core.role !== "leader") {
      throw new RaftError("EPERM", "only the leader lists peers", { leaderId: this.leaderId()?.toString() });
    }
    return new Configuration(core.confs.last().conf.peers).peers.slice();
  }

  getStatus(): NodeStatus {
    return nodeStatusOf(this, this.prepared, this.lifecycle, this.replicators, this.ballotBox.size);
  }

  /**
   * Saves a snapshot now (braft's `snapshot(done)`); resolves once it is durable and the log
   * compacted behind it. Does nothing when fewer than raft_do_snapshot_min_index_gap entries were
   * applied since the last one. EINVAL without snapshot storage, EBUSY while one is in progress.
   */
  snapshot(): Promise<void> {
    const executor = this.prepared?.snapshotExecutor;
    if (this.lifecycle !== "running" || this.fatalError !== undefined) {
      return Promise.reject(this.refuseApply() ?? new RaftError("EPERM", "node is not running"));
    }
    if (executor === undefined)
      return Promise.reject(new RaftError("EINVAL", "node has no snapshot storage"));
    return executor.snapshot();
  }

  /** Stops the node; idempotent. Pending applies fail with ESHUTDOWN; onShutdown is the last callback. */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  // ---- RPCs from peers ---------------------------------------------------------------------

  private service(): RaftService {
    return {
      requestVote: (request) => this.handleRequest({ kind: "vote", request }) as never,
      appendEntries: (request) => this.handleRequest({ kind: "append", request }) as never,
      timeoutNow: (request) => this.handleRequest({ kind: "timeoutNow", request }) as never,
      installSnapshot: (request) => this.handleRequest({ kind: "installSnapshot", request }) as never,
    };
  }

  private handleRequest(input: InboundRequest): Promise<unknown> {
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

  private deliverReply(reply: Reply): void {
    const pending = this.pendingReplies.get(reply.replyId);
    if (pending === undefined) return;
    this.pendingReplies.delete(reply.replyId);
    if (reply.kind === "error") pending.reject(new RaftError(reply.code, reply.text));
    else pending.resolve(reply.response);
  }

  // ---- the drive loop ----------------------------------------------------------------------

  /** Schedules one drain of the core's outputs after the current synchronous work. */
  private kick(): void {
    if (this.driveScheduled || this.lifecycle !== "running") return;
    this.driveScheduled = true;
    queueMicrotask(() => {
      this.driveScheduled = false;
      this.drive();
    });
  }

  private drive(): void {
    const prepared = this.prepared;
    if (prepared === undefined || this.lifecycle !== "running") return;
    this.withCore((core) => {
      this.proposeQueued(core);
      while (core.hasReady()) this.handleReady(core.takeReady());
      prepared.fsmCaller.onCommitted(Math.min(core.commitIndex, core.persistedIndex));
    }, false);
    this.armTimer();
  }

  private proposeQueued(core: RaftCore): void {
    if (this.applyQueue.length === 0) return;
    const tasks = this.applyQueue.takeAll();
    if (
      core.role === "leader" &&
      this.ballotBox.size + tasks.length > this.prepared!.flags.tsraft_max_pending_applies
    ) {
      const busy = Status.error(
        "EBUSY",
        `more than ${this.prepared!.flags.tsraft_max_pending_applies} applies pending`,
      );
      for (const task of tasks) task.closure.run(busy);
      return;
    }
    const proposals = tasks.map((task) => ({
      type: EntryType.DATA,
      data: task.data,
      expectedTerm: task.expectedTerm,
    }));
    const results = core.propose(proposals, this.env.nowMs());
    tasks.forEach((task, i) => {
      const result = results[i];
      if (result === undefined || RaftError.is(result)) {
        task.closure.run(Status.fromError(result ?? new RaftError("EIO", "no proposal result")));
        return;
      }
      if (task.closure instanceof PromiseClosure) task.closure.proposed = result;
      this.ballotBox.append(result.index, task.closure);
    });
  }

  private handleReady(ready: Ready): void {
    for (const event of ready.events) this.handleEvent(event);
    for (const send of ready.sendsNow) this.send(send);
    const mustPersist = ready.hardState !== undefined || ready.entries.length > 0;
    const after = ready.sendsAfterPersist.length > 0 || ready.replies.length > 0;
    if (!mustPersist && !after) return;
    const lastEntry: LogEntry | undefined = ready.entries[ready.entries.length - 1];
    this.prepared!.logManager.persist({ hardState: ready.hardState, entries: ready.entries }).then(
      () => {
        if (this.lifecycle !== "running") return;
        this.withCore((core) => {
          if (lastEntry !== undefined) core.onPersisted(lastEntry.index, lastEntry.term);
        });
        for (const send of ready.sendsAfterPersist) this.send(send);
        for (const reply of ready.replies) this.deliverReply(reply);
        this.kick();
      },
      (error: unknown) => this.fail(RaftError.is(error) ? error : new RaftError("EIO", String(error))),
    );
  }

  private handleEvent(event: CoreEvent): void {
    const fsmCaller = this.prepared!.fsmCaller;
    switch (event.type) {
      case "leaderStart":
        this.ballotBox.append(event.confIndex, new LeaderStartClosure(event.term));
        return;
      case "leaderStop": {
        for (const replicator of this.replicators.values()) replicator.releaseSnapshot();
        const status = Status.error("EPERM", `leader stepped down: ${event.reason}`);
        this.ballotBox.clear(status);
        this.applyQueue.failAll(new RaftError("EPERM", "leader stepped down"));
        fsmCaller.onLeaderStop(event.term, status);
        return;
      }
      case "startFollowing":
      case "stopFollowing": {
        const start = event.type === "startFollowing";
        const status = start ? Status.OK() : Status.error("EPERM", event.reason);
        fsmCaller.onFollowing(start, { leaderId: PeerId.parse(event.leaderId), term: event.term, status });
        return;
      }
      case "roleChanged":
        return;
      case "changeDone":
        this.pendingChange.finish(event.error);
        return;
      case "transferEnded":
        this.pendingTransfer.finish(
          event.succeeded
            ? undefined
            : new RaftError("ERAFTTIMEDOUT", `leadership transfer failed: ${event.reason}`),
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

  private send(send: Send): void {
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
          onFailure: (s) =>
            this.withCore((core) => core.stepResponse({ kind: "failure", send: s }, this.env.nowMs())),
          openSnapshot: async () => (await this.prepared?.snapshotExecutor?.openForSend()) ?? undefined,
        },
        () => this.env.nowMs(),
      );
      this.replicators.set(to, replicator);
    }
    replicator.send(send);
  }

  private armTimer(): void {
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

  /** Runs an input through the core; a broken invariant puts the node into the ERROR state. */
  private withCore(step: (core: RaftCore) => void, kickAfter = true): void {
    const core = this.prepared?.core;
    if (core === undefined || this.lifecycle !== "running") return;
    try {
      step(core);
    } catch (error) {
      const reason = error instanceof InvariantError ? `invariant broken: ${error.message}` : String(error);
      this.fail(new RaftError("ESTATEMACHINE", reason, { cause: error }));
      return;
    }
    if (kickAfter) this.kick();
  }

  private onApplied(index: number): void {
    this.withCore((core) => core.onApplied(index));
    this.readWaiters.applied(index);
  }

  private refuseApply(): RaftError | undefined {
    if (this.lifecycle === "shutting" || this.lifecycle === "shutdown")
      return new RaftError("ESHUTDOWN", "node is shut down");
    if (this.lifecycle !== "running") return new RaftError("EPERM", "node is not initialized");
    if (this.fatalError !== undefined)
      return new RaftError("EPERM", `node is in the ERROR state: ${this.fatalError.message}`);
    return undefined;
  }

  /** braft's ERROR state: stop leading and following, fail every pending apply, tell the state machine. */
  private fail(error: RaftError): void {
    if (this.fatalError !== undefined || this.prepared === undefined) return;
    this.fatalError = error;
    this.warn(`node ${this.nodeId} entered the ERROR state: ${error.message}`);
    const core = this.prepared.core;
    this.prepared.fsmCaller.setError(error);
    core.enterError(error.message, this.env.nowMs());
    for (const event of core.takeReady().events) this.handleEvent(event);
    const status = Status.error("EPERM", `node is in the ERROR state: ${error.message}`);
    this.ballotBox.clear(status);
    this.applyQueue.failAll(status.toError());
    this.readWaiters.failAll(status.toError());
    this.cancelTimer?.();
    this.armedDeadlineMs = Number.POSITIVE_INFINITY;
  }

  private async doShutdown(): Promise<void> {
    const prepared = this.prepared;
    const wasRunning = this.lifecycle === "running";
    this.lifecycle = "shutting";
    if (prepared === undefined) {
      this.lifecycle = "shutdown";
      return;
    }
    this.cancelTimer?.();
    this.cancelSnapshotTimer?.();
    prepared.server.unregisterNode(this.groupId, this.peerId.toString());
    if (wasRunning && prepared.core.role === "leader") this.handOverLeadership(prepared.core);
    if (wasRunning) {
      prepared.core.shutdown(this.env.nowMs());
      for (const event of prepared.core.takeReady().events) this.handleEvent(event);
    }
    const stopped = new RaftError("ESHUTDOWN", `node ${this.nodeId} is shutting down`);
    this.applyQueue.failAll(stopped);
    this.readWaiters.failAll(stopped);
    this.ballotBox.clear(Status.fromError(stopped));
    for (const pending of this.pendingReplies.values()) pending.reject(stopped);
    this.pendingReplies.clear();
    for (const replicator of this.replicators.values()) replicator.releaseSnapshot();
    await prepared.snapshotExecutor?.shutdown();
    await prepared.logManager.drain();
    await prepared.fsmCaller.shutdown();
    await prepared.logManager.close();
    this.lifecycle = "shutdown";
  }

  /**
   * A leader shutting down wakes its most up-to-date follower with TimeoutNow (braft does), so a
   * new leader appears at once instead of after an election timeout.
   */
  private handOverLeadership(core: RaftCore): void {
    try {
      core.transferLeadership(undefined, this.env.nowMs());
      while (core.hasReady()) this.handleReady(core.takeReady());
    } catch (error) {
      this.warn(`handing over leadership failed: ${String(error)}`);
    }
  }

  /** braft's snapshot timer: a snapshot every interval (<= 0 disables it). */
  private armSnapshotTimer(intervalS: number): void {
    if (intervalS <= 0 || this.prepared?.snapshotExecutor === undefined) return;
    this.cancelSnapshotTimer = this.env.setTimer(() => {
      if (this.lifecycle !== "running" || this.fatalError !== undefined) return;
      this.snapshot().catch((error: unknown) => {
        if (!(RaftError.is(error) && error.code === "EBUSY")) this.warn(`snapshot failed: ${String(error)}`);
      });
      this.armSnapshotTimer(intervalS);
    }, intervalS * 1000);
  }

  private warn(message: string): void {
    console.warn(`[tsraft] ${this.nodeId}: ${message}`);
  }
}
