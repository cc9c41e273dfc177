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
import type { SafetyChecker } from "./checkers.js";
import type { DurabilityChecker } from "./durability-checker.js";
import { SimClock } from "./sim-clock.js";
import { registerFsm } from "./sim-register-fsm.js";
import { SimGroup, SimReplica, type SimMachine, type SimProcess } from "./sim-group.js";
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
  readonly fsmFactory?: (peer: PeerKey, cluster: SimCluster, groupId: string) => StateMachine;
  /**
   * Raft groups hosted by every process (1 by default): one RaftNode per group per process, all
   * sharing the process's clock, Env, network host and liveness, each with its own disk. Group
   * ids are `sim`, `sim1`, `sim2`, ...; the cluster's single-group methods act on `sim`.
   */
  readonly groups?: number | undefined;
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

export type { SimProcess } from "./sim-group.js";

const DEFAULT_NETWORK: SimNetworkOptions = { minDelayMs: 1, maxDelayMs: 10, lossRate: 0, duplicateRate: 0 };

export class SimCluster {
  readonly scheduler = new SimScheduler();
  readonly prng: Prng;
  readonly network: SimNetwork;
  /** Every group; `groups[0]` is the one the single-group methods below act on. */
  readonly groups: readonly SimGroup[];
  /** The first group's checkers (the only ones when the cluster has one group). */
  readonly checker: SafetyChecker;
  readonly durability: DurabilityChecker;
  readonly peers: readonly PeerKey[];
  /** The first group's replica on each process. */
  readonly processes = new Map<PeerKey, SimProcess>();
  readonly groupId: string;
  readonly snapshotTransfer: SimSnapshotTransfer;
  readonly #machines = new Map<PeerKey, SimMachine>();
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
    const count = options.groups ?? 1;
    if (!Number.isSafeInteger(count) || count < 1)
      throw new RangeError(`SimCluster: groups must be >= 1, got ${count}`);
    this.groups = Array.from({ length: count }, (_, i) => {
      const groupId = i === 0 ? "sim" : `sim${i}`;
      return new SimGroup(groupId, this, count === 1 ? "" : `group ${groupId}`);
    });
    const first = this.groups[0] as SimGroup;
    this.groupId = first.groupId;
    this.checker = first.checker;
    this.durability = first.durability;
    for (const group of this.groups)
      for (const peer of this.peers.slice(firstWitness)) group.checker.markWitness(peer);
    for (const peer of this.peers) {
      const machine: SimMachine = { peer, clock: this.newClock(peer), env: undefined, liveness: undefined };
      this.#machines.set(peer, machine);
      for (const group of this.groups) {
        const replica = new SimReplica(machine, this.newDisk(`disk ${peer}`, group), {
          snapshotStore: this.newSnapshotStore(this.storeName(peer, group)),
          snapshotFileSystem: this.options.snapshots?.fileSystem?.(peer),
        });
        group.replicas.set(peer, replica);
        this.observeDisk(group, replica);
      }
      this.processes.set(peer, first.process(peer));
    }
    this.network.pausedUntil = (peer) => this.#machines.get(peer)?.clock.pausedUntilMs ?? 0;
  }

  /** The group named `groupId`. */
  group(groupId: string): SimGroup {
    const group = this.groups.find((g) => g.groupId === groupId);
    if (group === undefined) throw new Error(`no simulated group ${groupId}`);
    return group;
  }

  /** Every group's violations, each naming its group when there are several. */
  get violations(): string[] {
    return this.groups.flatMap((group) => group.checker.violations);
  }

  /** A group's disk on `peer`; the first group's keeps the labels of single-group runs, so their seeds replay. */
  private newDisk(label: string, group: SimGroup): SimDisk {
    const suffix = group === this.groups[0] ? "" : ` ${group.groupId}`;
    return new SimDisk(this.prng.fork(`${label}${suffix}`));
  }

  private storeName(peer: PeerKey, group: SimGroup): string {
    return group === this.groups[0] ? peer : `${peer}-${group.groupId}`;
  }

  /** A machine clock with a random offset and a rate within the cluster's bound. */
  private newClock(peer: PeerKey): SimClock {
    const rateMax = this.options.clockRateMax ?? 0;
    if (rateMax === 0) return new SimClock(0, 0);
    const prng = this.prng.fork(`clock ${peer}`);
    return new SimClock(prng.between(0, 1e9), prng.between(-rateMax, rateMax));
  }

  /** Feeds the replica's durable log writes to its group's log matching and durability checks. */
  private observeDisk(group: SimGroup, replica: SimReplica): void {
    const { peer } = replica;
    replica.disk.observer = {
      appended: (entries, prevTerm) => group.checker.observeDurableAppend(peer, entries, prevTerm),
      truncated: (lastIndexKept) => group.durability.observeTruncation(peer, lastIndexKept),
    };
  }

  private machine(peer: PeerKey): SimMachine {
    const machine = this.#machines.get(peer);
    if (machine === undefined) throw new Error(`no simulated process ${peer}`);
    return machine;
  }

  /** Whether the process's machine is paused now (nothing of it runs, nobody can call it). */
  paused(peer: PeerKey): boolean {
    return this.machine(peer).clock.paused(this.scheduler.nowMs);
  }

  /** Running processes that are not paused: those a client or an operator can call now. */
  reachable(): PeerKey[] {
    return this.running().filter((peer) => !this.paused(peer));
  }

  /** Pauses the process's machine for `durationMs` (a stopped process: see sim-clock.ts). */
  pause(peer: PeerKey, durationMs: number): void {
    this.machine(peer).clock.pause(this.scheduler.nowMs, durationMs);
  }

  /** Whether `peer` was started as a witness (see SimClusterOptions.witnesses). */
  isWitness(peer: PeerKey): boolean {
    return this.checker.isWitness(peer);
  }

  /** The first group's replica on `peer`. */
  process(peer: PeerKey): SimProcess {
    return this.groups[0]?.process(peer) as SimProcess;
  }

  /** The first group's node on `peer`. */
  node(peer: PeerKey): RaftNode {
    return (this.groups[0] as SimGroup).node(peer);
  }

  /** Starts every process that is not running. */
  async startAll(): Promise<void> {
    for (const peer of this.peers) if (this.machine(peer).env === undefined) await this.start(peer);
  }

  /** Starts (or restarts) one process, every group of it from its disk, with `flags` over the cluster's. */
  async start(peer: PeerKey, flags: Partial<RaftFlags> = {}): Promise<void> {
    const machine = this.machine(peer);
    if (machine.env !== undefined) throw new Error(`${peer} is already running`);
    const env = new SimEnv(
      this.scheduler,
      this.prng.fork(`env ${peer} ${this.incarnation++}`),
      machine.clock,
    );
    machine.env = env;
    machine.liveness = this.startLiveness(peer, env);
    await this.settle(Promise.all(this.groups.map((group) => this.startReplica(group, peer, env, flags))));
  }

  /** Starts the node of `group` on process `peer` (its Env already set). */
  private startReplica(
    group: SimGroup,
    peer: PeerKey,
    env: SimEnv,
    flags: Partial<RaftFlags>,
  ): Promise<void> {
    const replica = group.process(peer);
    const node = new RaftNode(group.groupId, peer);
    const custom = this.options.fsmFactory?.(peer, this, group.groupId);
    const registers = custom === undefined ? registerFsm(peer, group.checker) : undefined;
    const fsm = custom ?? (registers?.fsm as StateMachine);
    replica.node = node;
    replica.fsm = fsm;
    replica.registers = registers?.view;
    group.checker.nodeStarted(peer);
    group.durability.bootStarted(peer);
    const log = replica.disk.openLog(env, this.options.disk);
    const voters = this.peers.slice(0, this.options.initialVoters ?? this.peers.length);
    return node
      .init({
        fsm,
        server: this.checkedHost(group, peer, this.network.host(peer), replica.liveness),
        initialConf: voters.includes(peer) ? voters.join(",") : "",
        electionTimeoutMs: this.options.electionTimeoutMs ?? 1000,
        catchupTimeoutMs: this.options.catchupTimeoutMs,
        ...(this.options.maxClockDriftMs === undefined
          ? {}
          : { maxClockDriftMs: this.options.maxClockDriftMs }),
        logStorage: this.options.wrapLogStorage?.(peer, log) ?? log,
        raftMetaStorage: replica.disk.openMeta(env, this.options.disk),
        ...this.snapshotStorageOf(replica, env),
        snapshotIntervalS: this.options.snapshots?.intervalS ?? 0,
        snapshotLogMarginEntries: this.options.snapshots?.logMarginEntries,
        witness: this.isWitness(peer),
        env,
        flags: { ...this.options.flags, ...flags },
        logger: this.options.logger ?? silentLogger,
      })
      .finally(() => group.durability.bootFinished(peer, replica.disk));
  }

  /** kill -9 of the whole process: timers stop, in-flight messages vanish, every group's unsynced writes are lost. */
  crash(peer: PeerKey): void {
    const machine = this.machine(peer);
    if (machine.env === undefined) return;
    machine.env.kill();
    for (const group of this.groups) {
      const replica = group.process(peer);
      replica.disk.crash();
      replica.node = undefined;
      replica.fsm = undefined;
    }
    this.network.crash(peer);
    this.snapshotTransfer.dropOwner(peer);
    machine.env = undefined;
    machine.liveness = undefined;
  }

  /** Replaces a stopped process's disks with empty ones (a node that lost its data). */
  wipe(peer: PeerKey): void {
    if (this.machine(peer).env !== undefined) throw new Error(`stop ${peer} before wiping its disk`);
    for (const group of this.groups) {
      const replica = group.process(peer);
      replica.disk = this.newDisk(`wiped disk ${peer} ${this.incarnation++}`, group);
      this.observeDisk(group, replica);
      group.durability.forget(peer);
      replica.snapshotStore = this.newSnapshotStore(
        `${this.storeName(peer, group)}-wiped-${this.incarnation++}`,
      );
      replica.snapshotFileSystem = this.options.snapshots?.fileSystem?.(peer);
    }
  }

  /** A graceful stop through RaftNode.shutdown, every group of the process. */
  async stop(peer: PeerKey): Promise<void> {
    const machine = this.machine(peer);
    if (machine.env === undefined) return;
    const nodes = this.groups.map((group) => group.process(peer).node);
    await this.settle(Promise.all(nodes.map((node) => node?.shutdown())));
    for (const group of this.groups) {
      const replica = group.process(peer);
      replica.disk.crash(); // every write already completed; this just frees the incarnation
      replica.node = undefined;
    }
    machine.liveness?.stop();
    machine.liveness = undefined;
    machine.env = undefined;
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

  /** Processes that are up (possibly paused). */
  running(): PeerKey[] {
    return this.peers.filter((peer) => this.machine(peer).env !== undefined);
  }

  /** The first group's leader of the highest term among running nodes, if any. */
  leader(): PeerKey | undefined {
    return (this.groups[0] as SimGroup).leader();
  }

  /**
   * The process that leads the most groups now (ties: the first in peer order), if any leads:
   * the victim that hurts most. With one group, the leader.
   */
  busiestLeader(): PeerKey | undefined {
    if (this.groups.length === 1) return this.leader();
    const led = new Map<PeerKey, number>();
    for (const group of this.groups) {
      const leader = group.leader();
      if (leader !== undefined) led.set(leader, (led.get(leader) ?? 0) + 1);
    }
    let best: PeerKey | undefined;
    for (const peer of this.peers)
      if ((led.get(peer) ?? 0) > (best === undefined ? 0 : (led.get(best) ?? 0))) best = peer;
    return best;
  }

  /** Runs until the first group has a leader or `maxMs` of virtual time passed. */
  waitForLeader(maxMs = 30_000): Promise<PeerKey | undefined> {
    return (this.groups[0] as SimGroup).waitForLeader(maxMs);
  }

  /** Applies `data` to the first group through `peer`, giving up after `timeoutMs` of virtual time. Records acks. */
  apply(peer: PeerKey, data: Uint8Array, timeoutMs = 5000): Promise<ApplyResult> {
    return (this.groups[0] as SimGroup).apply(peer, data, timeoutMs);
  }

  /** Applies to the first group through its leader and runs the simulation until the apply settles. */
  applyAndWait(data: Uint8Array, timeoutMs = 5000): Promise<ApplyResult> {
    return (this.groups[0] as SimGroup).applyAndWait(data, timeoutMs);
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

  /** Checks log matching over every durable log and the applied prefixes, in every group. */
  checkSafety(): void {
    for (const group of this.groups) group.checkSafety();
  }

  /** Whether every running node of the first group applied everything its leader committed. */
  converged(): boolean {
    return (this.groups[0] as SimGroup).converged();
  }

  /** One line per node of the first group: role, term, leader and indexes, for failure reports. */
  describe(): string {
    return (this.groups[0] as SimGroup).describe();
  }

  /** Shuts every running process down (for test cleanup). */
  async shutdownAll(): Promise<void> {
    for (const peer of this.running()) await this.stop(peer);
  }

  /** Removes the snapshot files of every process from the disk. */
  dispose(): void {
    if (this.snapshotRoot !== undefined) rmSync(this.snapshotRoot, { recursive: true, force: true });
    this.snapshotRoot = undefined;
  }

  /** The snapshot options of an incarnation: local:// through the replica's adaptor, or SimSnapshotStore. */
  private snapshotStorageOf(
    replica: SimProcess,
    env: SimEnv,
  ): Pick<NodeOptions, "snapshotStorage" | "snapshotFileSystemAdaptor"> {
    if (replica.snapshotFileSystem === undefined)
      return { snapshotStorage: replica.snapshotStore?.open(env) };
    return {
      snapshotStorage: new LocalSnapshotStorage(`/${replica.peer}/snapshot`),
      snapshotFileSystemAdaptor: new SimFileSystemAdaptor(replica.snapshotFileSystem, env),
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
  private checkedService(group: SimGroup, peer: PeerKey, service: RaftService): RaftService {
    const replica = group.process(peer);
    const appendEntries = (request: AppendEntriesRequest): Promise<AppendEntriesResponse> =>
      service.appendEntries(request).then((response) => {
        if (response.success) group.durability.observeAppendSuccess(peer, request, replica.disk);
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

  /** Wraps a host so every AppendEntries a node sends tells its group's checker who leads its term. */
  private checkedHost(
    group: SimGroup,
    peer: PeerKey,
    host: RaftHost,
    liveness: ProcessLiveness | undefined,
  ): RaftHost {
    const checker = group.checker;
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
        host.registerNode(groupId, peerId, this.checkedService(group, peer, service)),
      unregisterNode: (groupId, peerId) => host.unregisterNode(groupId, peerId),
      maxEntryDataBytes: (groupId) => host.maxEntryDataBytes?.(groupId) ?? Number.POSITIVE_INFINITY,
    };
  }
}
