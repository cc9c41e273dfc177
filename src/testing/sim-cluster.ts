/**
 * A cluster of real RaftNodes on simulated time, network and disk, for scenario tests and the
 * randomized simulation. Every node's RPCs pass through a checker that records the leader of
 * each term, and every state machine reports its applies to the SafetyChecker.
 */
import { RaftError } from "../core/errors.js";
import type { AppendEntriesRequest, AppendEntriesResponse } from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { RaftFlags } from "../node/flags.js";
import type { ApplyResult } from "../node/apply-queue.js";
import { RaftNode } from "../node/raft-node.js";
import type { StateMachine } from "../node/state-machine.js";
import type { RaftClient, RaftHost, RaftService } from "../node/ports.js";
import { silentLogger, type Logger } from "../env/logger.js";
import type { LogStorage } from "../storage/interfaces.js";
import type { FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { LocalSnapshotStorage } from "../storage/local/local-snapshot-storage.js";
import type { NodeOptions } from "../node/options.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetyChecker } from "./checkers.js";
import { DurabilityChecker } from "./durability-checker.js";
import { SimClock } from "./sim-clock.js";
import { registerFsm, type RegisterView } from "./sim-register-fsm.js";
import { SimSnapshotStore, SimSnapshotTransfer } from "./sim-snapshot.js";
import { Prng } from "./prng.js";
import { SimDisk, type SimDiskOptions } from "./sim-storage.js";
import { SimEnv } from "./sim-env.js";
import { SimFileSystemAdaptor } from "./sim-fs-adaptor.js";
import { SimNetwork, type SimNetworkOptions } from "./sim-network.js";
import { SimScheduler } from "./sim-scheduler.js";
import { ProcessLiveness } from "../node/process-liveness.js";
import { endpointOfPeer } from "../util/peer-text.js";

export interface SimClusterOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly electionTimeoutMs?: number;
  /** NodeOptions.catchupTimeoutMs of every node (braft's default when unset). */
  readonly catchupTimeoutMs?: number | undefined;
  readonly network?: Partial<SimNetworkOptions>;
  readonly disk?: SimDiskOptions;
  readonly flags?: Partial<RaftFlags>;
  /** Builds each incarnation's state machine; the default records applies into the checker. */
  readonly fsmFactory?: (peer: PeerKey, cluster: SimCluster) => StateMachine;
  /** Snapshots: saved every `intervalS` of virtual time (and on demand), installed when needed. */
  readonly snapshots?:
    | {
        readonly intervalS: number;
        readonly logMarginEntries?: number;
        /**
         * Each process keeps its snapshots in `local://` storage through a FileSystemAdaptor
         * (NodeOptions.snapshotFileSystemAdaptor) made by this function, once per process and
         * again when its disk is wiped. It must not do real I/O (a MemoryFileSystemAdaptor, or an
         * adaptor over one), so runs stay deterministic. Absent: SimSnapshotStore's directories.
         */
        readonly fileSystem?: ((peer: PeerKey) => FileSystemAdaptor) | undefined;
      }
    | undefined;
  /**
   * How many of the peers form the initial configuration (all by default); the others start with
   * an empty configuration and join only when a leader adds them.
   */
  readonly initialVoters?: number | undefined;
  /** Wraps each incarnation's log storage, e.g. to inject write errors. */
  readonly wrapLogStorage?: (peer: PeerKey, storage: LogStorage) => LogStorage;
  /**
   * How many of the peers (the last ones) are witnesses: their ids carry braft's witness role
   * (`:1`) and they start with NodeOptions.witness (none by default).
   */
  readonly witnesses?: number | undefined;
  /** The nodes' logger; silent by default. */
  readonly logger?: Logger | undefined;
  /** NodeOptions.maxClockDriftMs of every node (braft's default, 1000, when absent). */
  readonly maxClockDriftMs?: number | undefined;
  /**
   * Each machine's clock runs at a rate drawn in [-clockRateMax, clockRateMax] with a random
   * offset (see sim-clock.ts); 0 or absent: every clock reads virtual time.
   */
  readonly clockRateMax?: number | undefined;
  /**
   * Quiescent groups (docs/quiescence.md): every process runs tsraft's process liveness, so idle
   * groups go quiet. Off by default (braft's behaviour: every group heartbeats). A function picks
   * the processes that run it; the others answer the LivenessService with ENOSYS, as braft does.
   */
  readonly quiescence?: boolean | ((peer: PeerKey) => boolean) | undefined;
}

/** One simulated process: its disk survives crashes, the rest is per incarnation. */
export interface SimProcess {
  readonly peer: PeerKey;
  disk: SimDisk;
  snapshotStore: SimSnapshotStore | undefined;
  /** The process's snapshot file system, when `snapshots.fileSystem` is set: it survives crashes. */
  snapshotFileSystem: FileSystemAdaptor | undefined;
  env: SimEnv | undefined;
  node: RaftNode | undefined;
  fsm: StateMachine | undefined;
  /** This incarnation's registers (the default state machine only). */
  registers: RegisterView | undefined;
  /** The machine's clock: it survives crashes. */
  readonly clock: SimClock;
  /** This incarnation's process liveness (quiescence runs only). */
  liveness: ProcessLiveness | undefined;
}

const DEFAULT_NETWORK: SimNetworkOptions = { minDelayMs: 1, maxDelayMs: 10, lossRate: 0, duplicateRate: 0 };

export class SimCluster {
  readonly scheduler = new SimScheduler();
  readonly prng: Prng;
  readonly network: SimNetwork;
  readonly checker = new SafetyChecker();
  readonly durability = new DurabilityChecker((message) => this.checker.violate(message));
  readonly peers: readonly PeerKey[];
  readonly processes = new Map<PeerKey, SimProcess>();
  readonly groupId = "sim";
  readonly snapshotTransfer: SimSnapshotTransfer;
  /** Holds the snapshot files of every process (only when snapshots are on); see dispose(). */
  private snapshotRoot: string | undefined;
  /** Drops matching AppendEntries requests (as lost on the wire), for directed scenarios. */
  dropAppend: ((from: PeerKey, request: AppendEntriesRequest) => boolean) | undefined;
  /** Fails matching AppendEntries with the error returned (as the peer's answer), for directed scenarios. */
  failAppend:
    ((from: PeerKey, to: PeerKey, request: AppendEntriesRequest) => RaftError | undefined) | undefined;
  private incarnation = 0;

  constructor(readonly options: SimClusterOptions) {
    this.prng = new Prng(options.seed);
    this.network = new SimNetwork(this.scheduler, this.prng.fork("network"), {
      ...DEFAULT_NETWORK,
      ...options.network,
    });
    this.snapshotTransfer = new SimSnapshotTransfer(this.scheduler, this.network);
    const firstWitness = options.nodes - (options.witnesses ?? 0);
    this.peers = Array.from(
      { length: options.nodes },
      (_, i) => `10.0.0.${i + 1}:8100:0${i >= firstWitness ? ":1" : ""}`,
    );
    for (const peer of this.peers.slice(firstWitness)) this.checker.markWitness(peer);
    for (const peer of this.peers) {
      const process: SimProcess = {
        peer,
        disk: new SimDisk(this.prng.fork(`disk ${peer}`)),
        snapshotStore: this.newSnapshotStore(peer),
        snapshotFileSystem: this.options.snapshots?.fileSystem?.(peer),
        env: undefined,
        node: undefined,
        fsm: undefined,
        registers: undefined,
        clock: this.newClock(peer),
        liveness: undefined,
      };
      this.processes.set(peer, process);
      this.observeDisk(process);
    }
    this.network.pausedUntil = (peer) => this.processes.get(peer)?.clock.pausedUntilMs ?? 0;
  }

  /** A machine clock with a random offset and a rate within the cluster's bound. */
  private newClock(peer: PeerKey): SimClock {
    const rateMax = this.options.clockRateMax ?? 0;
    if (rateMax === 0) return new SimClock(0, 0);
    const prng = this.prng.fork(`clock ${peer}`);
    return new SimClock(prng.between(0, 1e9), prng.between(-rateMax, rateMax));
  }

  /** Feeds the process's durable log writes to the log matching and durability checks. */
  private observeDisk(process: SimProcess): void {
    const { peer } = process;
    process.disk.observer = {
      appended: (entries, prevTerm) => this.checker.observeDurableAppend(peer, entries, prevTerm),
      truncated: (lastIndexKept) => this.durability.observeTruncation(peer, lastIndexKept),
    };
  }

  /** Whether the process's machine is paused now (nothing of it runs, nobody can call it). */
  paused(peer: PeerKey): boolean {
    return this.process(peer).clock.paused(this.scheduler.nowMs);
  }

  /** Running processes that are not paused: those a client or an operator can call now. */
  reachable(): PeerKey[] {
    return this.running().filter((peer) => !this.paused(peer));
  }

  /** Pauses the process's machine for `durationMs` (a stopped process: see sim-clock.ts). */
  pause(peer: PeerKey, durationMs: number): void {
    this.process(peer).clock.pause(this.scheduler.nowMs, durationMs);
  }

  /** Whether `peer` was started as a witness (see SimClusterOptions.witnesses). */
  isWitness(peer: PeerKey): boolean {
    return this.checker.isWitness(peer);
  }

  process(peer: PeerKey): SimProcess {
    const process = this.processes.get(peer);
    if (process === undefined) throw new Error(`no simulated process ${peer}`);
    return process;
  }

  node(peer: PeerKey): RaftNode {
    const node = this.process(peer).node;
    if (node === undefined) throw new Error(`${peer} is not running`);
    return node;
  }

  /** Starts every process that is not running. */
  async startAll(): Promise<void> {
    for (const peer of this.peers) if (this.process(peer).node === undefined) await this.start(peer);
  }

  /** Starts (or restarts) one process from its disk, with `flags` over the cluster's. */
  async start(peer: PeerKey, flags: Partial<RaftFlags> = {}): Promise<void> {
    const process = this.process(peer);
    if (process.node !== undefined) throw new Error(`${peer} is already running`);
    const env = new SimEnv(
      this.scheduler,
      this.prng.fork(`env ${peer} ${this.incarnation++}`),
      process.clock,
    );
    const node = new RaftNode(this.groupId, peer);
    const custom = this.options.fsmFactory?.(peer, this);
    const registers = custom === undefined ? registerFsm(peer, this.checker) : undefined;
    const fsm = custom ?? (registers?.fsm as StateMachine);
    process.env = env;
    process.node = node;
    process.liveness = this.startLiveness(peer, env);
    process.fsm = fsm;
    process.registers = registers?.view;
    this.checker.nodeStarted(peer);
    this.durability.bootStarted(peer);
    const log = process.disk.openLog(env, this.options.disk);
    await this.settle(
      node.init({
        fsm,
        server: this.checkedHost(peer, this.network.host(peer), process.liveness),
        initialConf: this.peers.slice(0, this.options.initialVoters ?? this.peers.length).includes(peer)
          ? this.peers.slice(0, this.options.initialVoters ?? this.peers.length).join(",")
          : "",
        electionTimeoutMs: this.options.electionTimeoutMs ?? 1000,
        catchupTimeoutMs: this.options.catchupTimeoutMs,
        ...(this.options.maxClockDriftMs === undefined
          ? {}
          : { maxClockDriftMs: this.options.maxClockDriftMs }),
        logStorage: this.options.wrapLogStorage?.(peer, log) ?? log,
        raftMetaStorage: process.disk.openMeta(env, this.options.disk),
        ...this.snapshotStorageOf(process, env),
        snapshotIntervalS: this.options.snapshots?.intervalS ?? 0,
        snapshotLogMarginEntries: this.options.snapshots?.logMarginEntries,
        witness: this.isWitness(peer),
        env,
        flags: { ...this.options.flags, ...flags },
        logger: this.options.logger ?? silentLogger,
      }),
    ).finally(() => this.durability.bootFinished(peer, process.disk));
  }

  /** kill -9: timers stop, in-flight messages vanish, unsynced writes are lost. */
  crash(peer: PeerKey): void {
    const process = this.process(peer);
    if (process.node === undefined) return;
    process.env?.kill();
    process.disk.crash();
    this.network.crash(peer);
    this.snapshotTransfer.dropOwner(peer);
    process.node = undefined;
    process.env = undefined;
    process.fsm = undefined;
    process.liveness = undefined;
  }

  /** Replaces a stopped process's disk with an empty one (a node that lost its data). */
  wipe(peer: PeerKey): void {
    const process = this.process(peer);
    if (process.node !== undefined) throw new Error(`stop ${peer} before wiping its disk`);
    process.disk = new SimDisk(this.prng.fork(`wiped disk ${peer} ${this.incarnation++}`));
    this.observeDisk(process);
    this.durability.forget(peer);
    process.snapshotStore = this.newSnapshotStore(`${peer}-wiped-${this.incarnation++}`);
    process.snapshotFileSystem = this.options.snapshots?.fileSystem?.(peer);
  }

  /** A graceful stop through RaftNode.shutdown. */
  async stop(peer: PeerKey): Promise<void> {
    const process = this.process(peer);
    const node = process.node;
    if (node === undefined) return;
    await this.settle(node.shutdown());
    process.disk.crash(); // every write already completed; this just frees the incarnation
    process.liveness?.stop();
    process.liveness = undefined;
    process.node = undefined;
    process.env = undefined;
  }

  /** A process's liveness (one per incarnation, on its own clock), serving its LivenessService. */
  private startLiveness(peer: PeerKey, env: SimEnv): ProcessLiveness | undefined {
    const option = this.options.quiescence;
    if (option === undefined || option === false) return undefined;
    const host = this.network.host(peer);
    const endpoint = endpointOfPeer(peer);
    if (option !== true && !option(peer)) {
      host.serveLiveness(endpoint, () => {
        throw new RaftError("ENOSYS", "Fail to find service=tsraft.LivenessService");
      });
      return undefined;
    }
    const liveness = new ProcessLiveness(env, host.livenessTransport, () => endpoint);
    host.serveLiveness(endpoint, (request) => liveness.onHeartbeat(request));
    return liveness;
  }

  running(): PeerKey[] {
    return this.peers.filter((peer) => this.process(peer).node !== undefined);
  }

  /** The leader of the highest term among running nodes, if any. */
  leader(): PeerKey | undefined {
    let best: { peer: PeerKey; term: number } | undefined;
    for (const peer of this.running()) {
      const node = this.node(peer);
      if (node.isLeader() && (best === undefined || node.term > best.term)) best = { peer, term: node.term };
    }
    return best?.peer;
  }

  /** Runs until a leader exists (and a quorum follows it) or `maxMs` of virtual time passed. */
  async waitForLeader(maxMs = 30_000): Promise<PeerKey | undefined> {
    await this.scheduler.runUntil(() => this.leader() !== undefined, maxMs);
    return this.leader();
  }

  /** Applies `data` through `peer`, giving up after `timeoutMs` of virtual time. Records acks. */
  async apply(peer: PeerKey, data: Uint8Array, timeoutMs = 5000): Promise<ApplyResult> {
    const node = this.node(peer);
    const controller = new AbortController();
    const cancel = this.scheduler.schedule(timeoutMs, () => controller.abort());
    try {
      const result = await node.apply(data, { signal: controller.signal });
      this.checker.observeAck(result.index, data);
      return result;
    } finally {
      cancel();
    }
  }

  /** Applies through the leader and runs the simulation until the apply settles. */
  async applyAndWait(data: Uint8Array, timeoutMs = 5000): Promise<ApplyResult> {
    const leader = this.leader();
    if (leader === undefined) throw new RaftError("EPERM", "no leader");
    return this.settle(this.apply(leader, data, timeoutMs), timeoutMs + 1);
  }

  /** Runs the simulation until `promise` settles (or `maxMs` passes) and returns its outcome. */
  async settle<T>(promise: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    tracked.catch(() => undefined);
    await this.scheduler.runUntil(() => done, maxMs);
    if (!done) throw new Error(`operation did not settle within ${maxMs} ms of virtual time`);
    return tracked;
  }

  /** Checks log matching over every durable log and the applied prefixes. */
  checkSafety(): void {
    const logs = new Map(this.peers.map((peer) => [peer, this.process(peer).disk.snapshotOfLog()]));
    this.checker.checkLogMatching(logs);
    this.checker.checkAppliedPrefixes();
  }

  /** Whether every running node applied everything the leader committed. */
  converged(): boolean {
    const leader = this.leader();
    if (leader === undefined) return false;
    const status = this.node(leader).getStatus();
    // Peers removed from the configuration get no more entries; only members must catch up.
    const members = new Set([...status.peers, ...status.learners]);
    return this.running()
      .filter((peer) => members.has(peer))
      .every((peer) => this.node(peer).getStatus().appliedIndex >= status.committedIndex);
  }

  /** One line per node: role, term, leader and indexes, for failure reports. */
  describe(): string {
    return this.peers
      .map((peer) => {
        const node = this.process(peer).node;
        if (node === undefined) return `${peer} down`;
        const s = node.getStatus();
        return (
          `${peer} ${s.state} term=${s.term} leader=${s.leaderId || "-"} last=${s.lastIndex}/${s.lastLogTerm} ` +
          `disk=${s.diskIndex} commit=${s.committedIndex} applied=${s.appliedIndex}` +
          s.replicators
            .map(
              (r) =>
                ` [${r.peerId} ${r.state} next=${r.nextIndex} match=${r.matchIndex} inflight=${r.inflightAppends}/${r.inflightRpcs}]`,
            )
            .join("")
        );
      })
      .join("; ");
  }

  /** Shuts every running node down (for test cleanup). */
  async shutdownAll(): Promise<void> {
    for (const peer of this.running()) await this.stop(peer);
  }

  /** Removes the snapshot files of every process from the disk. */
  dispose(): void {
    if (this.snapshotRoot !== undefined) rmSync(this.snapshotRoot, { recursive: true, force: true });
    this.snapshotRoot = undefined;
  }

  /** The snapshot options of an incarnation: local:// through the process's adaptor, or SimSnapshotStore. */
  private snapshotStorageOf(
    process: SimProcess,
    env: SimEnv,
  ): Pick<NodeOptions, "snapshotStorage" | "snapshotFileSystemAdaptor"> {
    if (process.snapshotFileSystem === undefined)
      return { snapshotStorage: process.snapshotStore?.open(env) };
    return {
      snapshotStorage: new LocalSnapshotStorage(`/${process.peer}/snapshot`),
      snapshotFileSystemAdaptor: new SimFileSystemAdaptor(process.snapshotFileSystem, env),
    };
  }

  private newSnapshotStore(name: string): SimSnapshotStore | undefined {
    if (this.options.snapshots === undefined || this.options.snapshots.fileSystem !== undefined)
      return undefined;
    this.snapshotRoot ??= mkdtempSync(join(tmpdir(), "tsraft-sim-"));
    return new SimSnapshotStore(join(this.snapshotRoot, name.replaceAll(":", "_")));
  }

  private lost(timeoutMs: number): Promise<never> {
    return new Promise((_, reject) => {
      this.scheduler.schedule(timeoutMs, () =>
        reject(new RaftError("ERAFTTIMEDOUT", "dropped by the scenario")),
      );
    });
  }

  /** Wraps a node's service so every AppendEntries it accepts is checked against its durable log. */
  private checkedService(peer: PeerKey, service: RaftService): RaftService {
    const process = this.process(peer);
    const appendEntries = (request: AppendEntriesRequest): Promise<AppendEntriesResponse> =>
      service.appendEntries(request).then((response) => {
        if (response.success) this.durability.observeAppendSuccess(peer, request, process.disk);
        return response;
      });
    const { readIndex, installSnapshot, quiesce } = service;
    return {
      requestVote: (request) => service.requestVote(request),
      appendEntries,
      timeoutNow: (request) => service.timeoutNow(request),
      ...(readIndex === undefined ? {} : { readIndex: readIndex.bind(service) }),
      ...(installSnapshot === undefined ? {} : { installSnapshot: installSnapshot.bind(service) }),
      ...(quiesce === undefined ? {} : { quiesce: quiesce.bind(service) }),
      admin: service.admin,
    };
  }

  /** Wraps a host so every AppendEntries a node sends tells the checker who leads its term. */
  private checkedHost(peer: PeerKey, host: RaftHost, liveness: ProcessLiveness | undefined): RaftHost {
    const checker = this.checker;
    const client: RaftClient = {
      requestVote: (to, request, ms) => host.client.requestVote(to, request, ms),
      appendEntries: (to, request, ms) => {
        checker.observeLeader(request.term, request.serverId);
        if (this.dropAppend?.(peer, request) === true) return this.lost(ms);
        const failure = this.failAppend?.(peer, to, request);
        if (failure !== undefined) return Promise.reject(failure);
        return host.client.appendEntries(to, request, ms);
      },
      timeoutNow: (to, request, ms) => host.client.timeoutNow(to, request, ms),
      readIndex: (to, request, ms) => {
        const read = host.client.readIndex;
        if (read === undefined) return Promise.reject(new RaftError("ENOSYS", "no read_index"));
        return read.call(host.client, to, request, ms);
      },
      installSnapshot: (to, request, ms) => {
        const install = host.client.installSnapshot;
        if (install === undefined) return Promise.reject(new RaftError("ENOSYS", "no install_snapshot"));
        return install.call(host.client, to, request, ms);
      },
    };
    return {
      client,
      liveness,
      snapshotTransfer: this.snapshotTransfer.forPeer(peer),
      registerNode: (groupId, peerId, service) =>
        host.registerNode(groupId, peerId, this.checkedService(peer, service)),
      unregisterNode: (groupId, peerId) => host.unregisterNode(groupId, peerId),
      maxEntryDataBytes: (groupId) => host.maxEntryDataBytes?.(groupId) ?? Number.POSITIVE_INFINITY,
    };
  }
}
