/**
 * One Raft group of a SimCluster. Every simulated process hosts one replica of every group (as a
 * RaftServer hosts one RaftNode per group, all with the process's PeerId), so a process fault
 * hits all its groups at once; each group keeps its own disk per process, its own checkers and
 * its own register history, and a violation names its group.
 */
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import type { ApplyResult } from "../node/apply-queue.js";
import type { ProcessLiveness } from "../node/process-liveness.js";
import type { RaftNode } from "../node/raft-node.js";
import type { StateMachine } from "../node/state-machine.js";
import type { FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { SafetyChecker } from "./checkers.js";
import { DurabilityChecker } from "./durability-checker.js";
import type { SimClock } from "./sim-clock.js";
import type { SimEnv } from "./sim-env.js";
import type { RegisterView } from "./sim-register-fsm.js";
import type { SimScheduler } from "./sim-scheduler.js";
import type { SimSnapshotStore } from "./sim-snapshot.js";
import type { SimDisk } from "./sim-storage.js";

/** One simulated process's replica of one group: its disk survives crashes, the rest is per incarnation. */
export interface SimProcess {
  readonly peer: PeerKey;
  disk: SimDisk;
  snapshotStore: SimSnapshotStore | undefined;
  /** The replica's snapshot file system, when `snapshots.fileSystem` is set: it survives crashes. */
  snapshotFileSystem: FileSystemAdaptor | undefined;
  /** The process's Env (shared by all its groups); undefined while it is down. */
  readonly env: SimEnv | undefined;
  node: RaftNode | undefined;
  fsm: StateMachine | undefined;
  /** This incarnation's registers (the default state machine only). */
  registers: RegisterView | undefined;
  /** The machine's clock: it survives crashes. */
  readonly clock: SimClock;
  /** The process's liveness (quiescence runs only), shared by all its groups. */
  readonly liveness: ProcessLiveness | undefined;
}

/** What a process is, whatever groups it hosts: its machine clock and its current incarnation. */
export interface SimMachine {
  readonly peer: PeerKey;
  readonly clock: SimClock;
  env: SimEnv | undefined;
  liveness: ProcessLiveness | undefined;
}

/** A replica of one group on one process; env, clock and liveness are the process's. */
export class SimReplica implements SimProcess {
  snapshotStore: SimSnapshotStore | undefined;
  snapshotFileSystem: FileSystemAdaptor | undefined;
  node: RaftNode | undefined;
  fsm: StateMachine | undefined;
  registers: RegisterView | undefined;

  constructor(
    private readonly machine: SimMachine,
    public disk: SimDisk,
    store: { snapshotStore: SimSnapshotStore | undefined; snapshotFileSystem: FileSystemAdaptor | undefined },
  ) {
    this.snapshotStore = store.snapshotStore;
    this.snapshotFileSystem = store.snapshotFileSystem;
  }

  get peer(): PeerKey {
    return this.machine.peer;
  }

  get env(): SimEnv | undefined {
    return this.machine.env;
  }

  get clock(): SimClock {
    return this.machine.clock;
  }

  get liveness(): ProcessLiveness | undefined {
    return this.machine.liveness;
  }
}

/** What a group needs of its cluster (the processes it runs on and virtual time). */
export interface SimGroupHost {
  readonly scheduler: SimScheduler;
  readonly peers: readonly PeerKey[];
  /** Processes that are up (running, possibly paused). */
  running(): PeerKey[];
  reachable(): PeerKey[];
  paused(peer: PeerKey): boolean;
  settle<T>(promise: Promise<T>, maxMs?: number): Promise<T>;
}

/** One group across every process of the cluster. */
export class SimGroup {
  readonly checker: SafetyChecker;
  readonly durability: DurabilityChecker;
  readonly replicas = new Map<PeerKey, SimReplica>();

  /** `label` prefixes the group's violations (empty when the cluster has one group). */
  constructor(
    readonly groupId: string,
    private readonly host: SimGroupHost,
    label: string,
  ) {
    this.checker = new SafetyChecker(label);
    this.durability = new DurabilityChecker((message) => this.checker.violate(message));
  }

  get scheduler(): SimScheduler {
    return this.host.scheduler;
  }

  get peers(): readonly PeerKey[] {
    return this.host.peers;
  }

  running(): PeerKey[] {
    return this.host.running();
  }

  reachable(): PeerKey[] {
    return this.host.reachable();
  }

  paused(peer: PeerKey): boolean {
    return this.host.paused(peer);
  }

  settle<T>(promise: Promise<T>, maxMs?: number): Promise<T> {
    return this.host.settle(promise, maxMs);
  }

  process(peer: PeerKey): SimReplica {
    const replica = this.replicas.get(peer);
    if (replica === undefined) throw new Error(`no simulated process ${peer}`);
    return replica;
  }

  node(peer: PeerKey): RaftNode {
    const node = this.process(peer).node;
    if (node === undefined) throw new Error(`${peer} is not running`);
    return node;
  }

  /** The leader of the highest term among running nodes, if any. */
  leader(): PeerKey | undefined {
    let best: { peer: PeerKey; term: number } | undefined;
    for (const peer of this.running()) {
      const node = this.process(peer).node;
      if (node === undefined) continue;
      if (node.isLeader() && (best === undefined || node.term > best.term)) best = { peer, term: node.term };
    }
    return best?.peer;
  }

  /** Runs until a leader exists or `maxMs` of virtual time passed. */
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

  /** Checks log matching over every durable log and the applied prefixes. */
  checkSafety(): void {
    const logs = new Map(this.peers.map((peer) => [peer, this.process(peer).disk.snapshotOfLog()]));
    this.checker.checkLogMatching(logs);
    this.checker.checkAppliedPrefixes();
  }

  /** Whether every running member applied everything the leader committed. */
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
          `${peer} ${s.state}${s.quiet ? " quiet" : ""} term=${s.term} leader=${s.leaderId || "-"} ` +
          `last=${s.lastIndex}/${s.lastLogTerm} disk=${s.diskIndex} commit=${s.committedIndex} applied=${s.appliedIndex}` +
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
}
