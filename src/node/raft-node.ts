/**
 * RaftNode (braft's Node): the public API and the lifecycle. `init()` builds a RunningNode whole
 * (running-node.ts: how inputs reach the core and its outputs are performed); every operation
 * before init, after shutdown or in the ERROR state is refused here.
 */
import { RaftError } from "../core/errors.js";
import { realEnv, type Env } from "../env/env.js";
import { globalLogger, type Logger } from "../env/logger.js";
import type { ApplyResult, Task } from "./apply-queue.js";
import { PromiseClosure } from "./apply-queue.js";
import { checkedDriftMs, readCommittedUserLog, type UserLog } from "./node-admin.js";
import { prepareNode, type OpenedNode } from "./node-init.js";
import type { NodeStatus } from "./node-status.js";
import { nodeStatusOf } from "./node-status.js";
import { DEFAULT_SNAPSHOT_INTERVAL_S, refusalOf, type Lifecycle } from "./lifecycle.js";
import { RunningNode } from "./running-node.js";
import type { NodeOptions } from "./options.js";
import { ANY_PEER, Configuration, PeerId } from "./peer-id.js";
import type { ReadIndexResult } from "./read-waiters.js";
import { Status } from "./closure.js";
import type { LeaderLeaseStatus } from "../core/lease.js";
import type { RaftCore } from "../core/raft.js";
import type { ConfigurationData } from "../core/types.js";
import type { NodeAdmin } from "./ports.js";

/** A configuration as callers may give it: a Configuration, its text, or a list of peers. */
export type ConfigurationInput = Configuration | string | readonly (PeerId | string)[];

/**
 * The operator handle of `node` (CliService, status pages), with plain-string arguments. A class,
 * not an object of closures: every node keeps one for its life (docs/quiescence.md, "Cost").
 */
class AdminHandle implements NodeAdmin {
  readonly groupId: string;
  readonly peerId: string;

  constructor(
    private readonly node: RaftNode,
    readonly cliDisabled: boolean,
  ) {
    this.groupId = node.groupId;
    this.peerId = node.peerId.toString();
  }

  getStatus(): NodeStatus {
    return this.node.getStatus();
  }

  leaderId(): string | undefined {
    return this.node.leaderId()?.toString();
  }

  addPeer(peer: string): Promise<void> {
    return this.node.addPeer(peer);
  }

  removePeer(peer: string): Promise<void> {
    return this.node.removePeer(peer);
  }

  changePeers(newPeers: readonly string[]): Promise<void> {
    return this.node.changePeers(Configuration.parse(newPeers.join(",")));
  }

  resetPeers(newPeers: readonly string[]): Promise<void> {
    return this.node.resetPeers(Configuration.parse(newPeers.join(",")));
  }

  snapshot(): Promise<void> {
    return this.node.snapshot();
  }

  transferLeadershipTo(peer: string): Promise<void> {
    return this.node.transferLeadershipTo(peer);
  }

  addLearners(learners: readonly string[]): Promise<void> {
    return this.node.addLearners(learners);
  }

  removeLearners(learners: readonly string[]): Promise<void> {
    return this.node.removeLearners(learners);
  }
}

export class RaftNode {
  readonly groupId: string;
  readonly peerId: PeerId;
  /** The node init built, from a successful init on (kept after shutdown, for its status). */
  private running: RunningNode | undefined;
  /** The lifecycle while there is no running node. */
  private unstarted: "uninitialized" | "initializing" | "shutdown" = "uninitialized";
  private shutdownPromise: Promise<void> | undefined;
  /** The init in progress or done; a shutdown during init waits for it to let go of storage. */
  private initializing: Promise<void> = Promise.resolve();
  /** The largest entry apply() accepts (the server's frame budget); computed once, at first use. */
  private entryBytesMax: number | undefined;

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
    return this.running?.parts.core.term ?? 0;
  }

  /**
   * Starts the node: opens storage, restores state, joins the server. Rejects on any failure,
   * and with ESHUTDOWN when `shutdown()` was called before it finished.
   */
  init(options: NodeOptions): Promise<void> {
    if (this.lifecycle !== "uninitialized")
      return Promise.reject(new RaftError("EINVAL", `node ${this.nodeId} was already initialized`));
    this.unstarted = "initializing";
    this.initializing = this.initialize(options);
    return this.initializing;
  }

  private async initialize(options: NodeOptions): Promise<void> {
    const env = options.env ?? realEnv;
    let opened: OpenedNode | undefined;
    try {
      opened = await prepareNode(this.groupId, this.peerId, options, env);
      if (this.shutdownPromise !== undefined)
        throw new RaftError("ESHUTDOWN", `node ${this.nodeId} was shut down before init finished`);
      this.running = new RunningNode(this, opened, env);
      this.running.start(
        new AdminHandle(this, options.disableCli === true),
        options.snapshotIntervalS ?? DEFAULT_SNAPSHOT_INTERVAL_S,
      );
    } catch (error) {
      // The one failure path of init: whatever storage was opened is closed again.
      this.running = undefined;
      this.unstarted = "shutdown";
      await opened?.logManager.close().catch(() => undefined);
      throw RaftError.is(error)
        ? error
        : new RaftError("EIO", `init failed: ${String(error)}`, { cause: error });
    }
  }

  private get lifecycle(): Lifecycle {
    return this.running?.lifecycle ?? this.unstarted;
  }

  private get env(): Env {
    return this.running?.env ?? realEnv;
  }

  private get logger(): Logger {
    return this.running?.logger ?? globalLogger;
  }

  /** The running node when it takes operations now, else the refusal (braft's code, `refused`). */
  private usable(): RunningNode | RaftError {
    const running = this.running;
    const refusal = refusalOf(this.lifecycle, running?.fatalError);
    if (refusal !== undefined) return refusal;
    return running ?? new RaftError("EPERM", "node is not initialized", { outcome: "refused" });
  }

  /** Runs an input through the running node's core (nothing before init; see RunningNode.withCore). */
  protected withCore(step: (core: RaftCore) => void, kickAfter = true): void {
    this.running?.withCore(step, kickAfter);
  }

  /**
   * Replicates `data` and resolves once it was committed and applied on this node, with the value
   * the state machine passed to `iter.done.setResult`. Rejects with EPERM (not leader, with the
   * leader's id when known), EPERM (also for an expectedTerm mismatch, as braft), EBUSY (too many pending applies),
   * EINVAL (larger than one AppendEntries can carry: see RaftHost.maxEntryDataBytes),
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
    const running = this.usable();
    if (running instanceof RaftError) {
      closure.run(Status.fromError(running));
      return;
    }
    if (!(task.data instanceof Uint8Array)) {
      closure.run(Status.error("EINVAL", "task data must be a Uint8Array", "refused"));
      return;
    }
    const entryBytesMax = this.maxEntryBytes(running);
    if (task.data.length > entryBytesMax) {
      // Refused before it reaches the log: an entry no AppendEntries can carry would stall the group.
      const text = `entry of ${task.data.length} bytes exceeds ${entryBytesMax}, the most one AppendEntries carries`;
      closure.run(Status.error("EINVAL", text, "refused"));
      return;
    }
    running.applyQueue.push({ data: task.data, closure, expectedTerm: task.expectedTerm });
    running.kick();
  }

  /** The largest entry data this node accepts: its server's frame budget, unlimited without one. */
  private maxEntryBytes(running: RunningNode): number {
    this.entryBytesMax ??= running.parts.server.maxEntryDataBytes?.(this.groupId) ?? Number.POSITIVE_INFINITY;
    return this.entryBytesMax;
  }

  /**
   * A linearizable read (ReadIndex, beyond braft): resolves once this leader has confirmed with a
   * quorum that it still leads (or holds a valid lease, with raft_enable_leader_lease) and its
   * state machine has applied everything committed when the read arrived. Read the state machine
   * right after. Rejects with EPERM (not the leader, or leadership lost meanwhile; `leaderId` says
   * where to go), ERAFTTIMEDOUT (no quorum within `timeoutMs`, an election timeout by default),
   * ECANCELED (signal) or ESHUTDOWN. Every failure is `refused`: a read changes nothing.
   */
  readIndex(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ReadIndexResult> {
    const running = this.usable();
    if (running instanceof RaftError) return Promise.reject(running);
    if (running.parts.options.witness === true) return Promise.reject(witnessReadRefusal(running));
    const timeoutMs = options.timeoutMs ?? running.parts.electionTimeoutMs;
    const leader = running.parts.core.leaderId;
    const self = this.peerId.toString();
    const read =
      leader !== "" && leader !== self
        ? running.readWaiters.add(timeoutMs, options.signal, (id) =>
            this.askLeaderForReadIndex(running, id, leader, timeoutMs),
          )
        : running.readWaiters.add(timeoutMs, options.signal, (id) => running.startReadInCore(id));
    return read.catch((error: unknown) => {
      throw RaftError.is(error) ? error.withOutcome("refused") : error;
    });
  }

  /** A follower's or learner's read: the leader confirms an index, then the local apply catches up. */
  private askLeaderForReadIndex(running: RunningNode, id: number, leader: string, timeoutMs: number): void {
    const client = running.parts.client;
    const readWaiters = running.readWaiters;
    const request = { groupId: this.groupId, serverId: this.peerId.toString(), peerId: leader };
    if (client.readIndex === undefined) {
      readWaiters.fail([id], new RaftError("ENOSYS", "the transport cannot ask the leader for a read index"));
      return;
    }
    client.readIndex(leader, request, timeoutMs).then(
      (response) => {
        if (response.success)
          readWaiters.confirmed([{ id, index: response.index }], running.parts.fsmCaller.lastAppliedIndex);
        else
          readWaiters.fail(
            [id],
            new RaftError("EPERM", `${leader} could not confirm a read`, {
              leaderId: this.leaderId()?.toString(),
            }),
          );
      },
      (error: unknown) =>
        readWaiters.fail([id], RaftError.is(error) ? error : new RaftError("EIO", String(error))),
    );
  }

  /**
   * braft's change_peers: moves the group to `conf` in stages (new peers catch up, then the joint
   * configuration, then the new one; a single-peer change skips the joint stage). Resolves when
   * the new configuration is committed. EPERM off the leader, EBUSY while another change runs,
   * ECATCHUP when a new peer does not catch up within an election timeout, EINVAL for a bad conf.
   */
  changePeers(conf: ConfigurationInput): Promise<void> {
    const running = this.usable();
    if (running instanceof RaftError) return Promise.reject(running);
    const parsed = configurationOf(conf);
    if (parsed instanceof RaftError) return Promise.reject(parsed.withOutcome("refused"));
    return running.pendingChange.run(() =>
      this.startInCore((core) => core.changeConfiguration(parsed, this.env.nowMs())),
    );
  }

  /**
   * braft's reset_peers. UNSAFE: for a group that lost its majority for good. This node alone
   * adopts `conf` (no replication, no quorum agreed to it), moves to a new term and, if it is the
   * only voter, leads at once. Entries the lost majority committed but this node lacks are gone,
   * and if the "lost" nodes come back with the old configuration two groups can form. Use it only
   * when the other peers are known dead, then add fresh peers with addPeer.
   */
  resetPeers(conf: ConfigurationInput): Promise<void> {
    const refusal = this.usable();
    if (refusal instanceof RaftError) return Promise.reject(refusal);
    const parsed = configurationOf(conf);
    if (parsed instanceof RaftError) return Promise.reject(parsed.withOutcome("refused"));
    const { error } = this.startInCore((core) => core.resetConfiguration(parsed, this.env.nowMs()));
    return error === undefined ? Promise.resolve() : Promise.reject(error.withOutcome("refused"));
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
    const core = this.running?.parts.core;
    if (core === undefined || core.role !== "leader") {
      const error = core?.notLeaderError() ?? new RaftError("EPERM", "node is not initialized");
      return Promise.reject(error.withOutcome("refused"));
    }
    try {
      const { peers, learners } = core.confs.last().conf;
      return this.changePeers(edit(new Configuration(peers, learners ?? [])));
    } catch (error) {
      return Promise.reject(RaftError.is(error) ? error.withOutcome("refused") : error);
    }
  }

  /** braft's add_peer: adds `peer` to the current configuration (already present: succeeds). */
  addPeer(peer: PeerId | string): Promise<void>;
  /**
   * The form of braft's user guide, `add_peer(old_peers, peer, done)`: adds `peer` only while the
   * group's peers are exactly `oldPeers`. Succeeds at once when they are `oldPeers` plus `peer`
   * already (a retried call); otherwise EINVAL "old_peers dismatch", braft's code and text.
   */
  addPeer(
    oldPeers: Configuration | string | readonly (PeerId | string)[],
    peer: PeerId | string,
  ): Promise<void>;
  addPeer(
    first: PeerId | string | Configuration | readonly (PeerId | string)[],
    peer?: PeerId | string,
  ): Promise<void> {
    if (peer === undefined) {
      const added = first as PeerId | string;
      return this.changeCurrent((conf) => new Configuration([...conf.peers, added], conf.learners));
    }
    return this.changeCurrent((conf) => {
      const old = Configuration.from(first as Configuration | string | readonly (PeerId | string)[]);
      const wanted = new Configuration([...old.peers, peer], conf.learners);
      const current = conf.peerKeys().join(",");
      if (current === wanted.peerKeys().join(",")) return conf;
      if (current !== old.peerKeys().join(",")) {
        throw new RaftError(
          "EINVAL",
          `old_peers dismatch: the group's peers are ${current}, not ${old.toString()}`,
        );
      }
      return wanted;
    });
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
    const running = this.usable();
    if (running instanceof RaftError) return Promise.reject(running);
    let target: string | undefined;
    try {
      const id = PeerId.from(peer);
      target = id.equals(ANY_PEER) ? undefined : id.toString();
    } catch (error) {
      return Promise.reject(RaftError.is(error) ? error.withOutcome("refused") : error);
    }
    return running.pendingTransfer.run(() =>
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
    this.withCore((core) => core.setReadOnly(true));
  }

  /** braft's leave_readonly_mode. */
  leaveReadonlyMode(): void {
    this.withCore((core) => core.setReadOnly(false));
  }

  /** Whether applies through this node fail with EREADONLY: it, or (on a leader) a quorum, is read-only. */
  readonly(): boolean {
    return this.running?.parts.core.isReadOnly() ?? false;
  }

  /**
   * braft's is_leader_lease_valid: this leader may serve reads from its own state without asking a
   * quorum (only with raft_enable_leader_lease; always false otherwise, and from the moment a
   * leadership transfer starts). See docs/reads.md.
   */
  isLeaderLeaseValid(): boolean {
    return this.getLeaderLeaseStatus().state === "VALID";
  }

  /**
   * braft's get_leader_lease_status: DISABLED without raft_enable_leader_lease; EXPIRED off the
   * leader or during a leadership transfer; NOT_READY until the new leader's state machine has
   * applied its first entry (onLeaderStart ran); VALID with the lease's `term` and `leaseEpoch`;
   * SUSPECT when the lease ran out but the leader has not stepped down yet (read through
   * `readIndex()` then). A state machine serving a read from its own state while VALID, and
   * finding the same `leaseEpoch` after reading, read under one unbroken lease.
   */
  getLeaderLeaseStatus(): LeaderLeaseStatus {
    const running = this.usable();
    if (running instanceof RaftError) {
      const disabled = this.running?.parts.flags.raft_enable_leader_lease !== true;
      return { state: disabled ? "DISABLED" : "EXPIRED", term: 0, leaseEpoch: 0 };
    }
    return running.parts.core.leaderLeaseStatus(running.env.nowMs());
  }

  /**
   * braft's reset_election_timeout_ms. With one argument (the safe form): EINVAL above the
   * current election timeout + maxClockDriftMs; a shorter timeout moves the difference into the
   * drift allowance, so followers never vote sooner than before and a leader's lease never
   * outgrows what they wait. With `maxClockDriftMs` (braft's two-argument form) both are taken
   * as given: every node must then keep its election timeout + drift at least the leaders'
   * election timeout + the real clock drift, or lease reads may be stale (docs/reads.md).
   */
  resetElectionTimeoutMs(electionTimeoutMs: number, maxClockDriftMs?: number): void {
    const drift = checkedDriftMs(maxClockDriftMs);
    const error = this.coreResult((core) =>
      core.resetElectionTimeout(electionTimeoutMs, drift, this.env.nowMs()),
    );
    if (error !== undefined) throw error;
    this.logger.info("election timeout reset", {
      electionTimeoutMs: this.running?.parts.core.config.electionTimeoutMs,
      maxClockDriftMs: this.running?.parts.core.config.maxClockDriftMs,
    });
  }

  /**
   * braft's vote(election_timeout_ms): this follower takes `electionTimeoutMs` (as the safe
   * resetElectionTimeoutMs does; EINVAL above the threshold) and starts an election now, even
   * under a live leader: its peers' lease refusals count once that leader says it would be
   * disrupted, and the leader steps down for it. EPERM unless a follower.
   */
  vote(electionTimeoutMs: number): void {
    const error = this.coreResult((core) => core.triggerVote(electionTimeoutMs, this.env.nowMs()));
    if (error !== undefined) throw error;
    this.logger.info("vote triggered", { electionTimeoutMs });
  }

  /** Runs a core call that may refuse; EPERM when the node is not running. */
  private coreResult(call: (core: RaftCore) => RaftError | undefined): RaftError | undefined {
    const refusal = this.usable();
    if (refusal instanceof RaftError) return refusal;
    let error: RaftError | undefined = new RaftError("EPERM", "node is not running");
    this.withCore((core) => {
      error = call(core);
    });
    return error;
  }

  /**
   * braft's read_committed_user_log: the first DATA entry at or after `index`, skipping
   * configuration entries. EINVAL past the committed index, ELOGDELETED when compacted away,
   * ENOMOREUSERLOG when only non-data entries remain up to the committed index.
   */
  readCommittedUserLog(index: number): UserLog {
    if (this.running === undefined) throw new RaftError("EPERM", "node is not initialized");
    return readCommittedUserLog(this.running.parts, index);
  }

  isLeader(): boolean {
    return this.running?.parts.core.role === "leader";
  }

  /** The leader this node knows of, or undefined. */
  leaderId(): PeerId | undefined {
    const leader = this.running?.parts.core.leaderId ?? "";
    return leader === "" ? undefined : PeerId.parse(leader);
  }

  /** The peers of the current configuration; only the leader's view is authoritative (EPERM elsewhere). */
  listPeers(): PeerId[] {
    const core = this.running?.parts.core;
    if (core === undefined || core.role !== "leader") {
      throw new RaftError("EPERM", "only the leader lists peers", { leaderId: this.leaderId()?.toString() });
    }
    return new Configuration(core.confs.last().conf.peers).peers.slice();
  }

  getStatus(): NodeStatus {
    if (this.running !== undefined) return this.running.status();
    return nodeStatusOf(this, undefined, {
      lifecycle: this.lifecycle,
      replicators: new Map(),
      pendingApplies: 0,
      pendingIndex: 0,
      snapshotTimer: undefined,
      nowMs: this.env.nowMs(),
    });
  }

  /**
   * Saves a snapshot now (braft's `snapshot(done)`); resolves once it is durable and the log
   * compacted behind it. Does nothing when fewer than raft_do_snapshot_min_index_gap entries were
   * applied since the last one. EINVAL without snapshot storage, EBUSY while one is in progress.
   */
  snapshot(): Promise<void> {
    const running = this.usable();
    if (running instanceof RaftError) return Promise.reject(running);
    return running.snapshot();
  }

  /** Stops the node; idempotent. Pending applies fail with ESHUTDOWN; onShutdown is the last callback. */
  shutdown(): Promise<void> {
    // Asked once: a shutdown asked before init finished stays the answer.
    this.shutdownPromise ??= this.running?.shutdown() ?? this.shutdownUnstarted();
    return this.shutdownPromise;
  }

  /** Before init finished: init sees the request, closes what it opened and rejects. */
  private shutdownUnstarted(): Promise<void> {
    if (this.unstarted === "initializing")
      return this.initializing.then(
        () => undefined,
        () => undefined,
      );
    this.unstarted = "shutdown";
    return Promise.resolve();
  }
}

/** The core form of a configuration argument, or the EINVAL refusing its syntax. */
function configurationOf(conf: ConfigurationInput): ConfigurationData | RaftError {
  try {
    const target = Configuration.from(conf);
    return { peers: target.peerKeys(), learners: target.learnerKeys() };
  } catch (error) {
    return RaftError.is(error) ? error : new RaftError("EINVAL", String(error));
  }
}

/** A witness confirms no reads: its state machine holds nothing to read after them. */
function witnessReadRefusal(running: RunningNode): RaftError {
  const leader = running.parts.core.leaderId;
  return new RaftError("EPERM", "a witness keeps no state machine: read through a full replica", {
    outcome: "refused",
    leaderId: leader === "" ? undefined : leader,
  });
}
