/**
 * The clients of a randomized simulation: each writes unique values into a few registers and
 * reads them back, through whoever seems to lead (sometimes through any node). Every operation
 * goes into the run's SimHistory, which is checked for linearizability at the end. Reads are of
 * three kinds: lease reads (on a node whose isLeaderLeaseValid() holds, its registers are read at
 * once), and readIndex() on the leader, on a follower or on a learner. With many groups, each
 * operation goes to one group (half of them to the first, the rest spread evenly, so some groups
 * are busy while others go quiet); the history's keys are `<group>/<key>`, so linearizability is
 * checked per group.
 */
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import type { Prng } from "./prng.js";
import type { SimCluster } from "./sim-cluster.js";
import type { SimGroup } from "./sim-group.js";
import type { SimHistory } from "./sim-history.js";
import { encodeWrite, type RegisterWriteResult } from "./sim-register-fsm.js";

export interface WorkloadOptions {
  readonly clients: number;
  /** Registers written and read (k0..k{keys-1}). */
  readonly keys: number;
  /** Share of writes padded to a large entry, and the largest size. */
  readonly largeEntryChance: number;
  readonly largeEntryMaxBytes: number;
  /** Whether lease reads are tried (the lease is on in this run). */
  readonly leaseReads: boolean;
}

/**
 * Whether a failed apply certainly never happened. Conservative: only an error that says so
 * (an `outcome` of "refused", where the node provides one) counts; anything else may still commit.
 */
export function definitelyRefused(error: unknown): boolean {
  return RaftError.is(error) && (error as { outcome?: unknown }).outcome === "refused";
}

export class Workload {
  private running = false;
  private paused = false;
  private nextValue = 1n;

  constructor(
    private readonly cluster: SimCluster,
    private readonly prng: Prng,
    private readonly history: SimHistory,
    private readonly options: WorkloadOptions,
  ) {}

  start(): void {
    this.running = true;
    for (let client = 0; client < this.options.clients; client++) void this.loop(`c${client}`);
  }

  stop(): void {
    this.running = false;
  }

  /** Clients stop issuing operations (those in flight finish) until `resume` (quiet periods). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  private async loop(client: string): Promise<void> {
    while (this.running) {
      if (this.paused) {
        await this.sleep(100);
        continue;
      }
      const group = this.group();
      const target = this.target(group);
      if (target === undefined) {
        await this.sleep(this.prng.int(10, 100));
        continue;
      }
      const key = `k${this.prng.int(0, this.options.keys - 1)}`;
      const done = this.prng.chance(0.35)
        ? await this.read(group, client, target, key)
        : await this.write(group, client, target, key);
      if (!done) await this.sleep(this.prng.int(5, 50));
    }
  }

  /** The group of the next operation; no draw with one group, so single-group seeds replay as before. */
  private group(): SimGroup {
    const groups = this.cluster.groups;
    if (groups.length === 1 || this.prng.chance(0.5)) return groups[0] as SimGroup;
    return this.prng.pick(groups);
  }

  /** The history's name of `key` in `group` (the plain key when there is one group). */
  private historyKey(group: SimGroup, key: string): string {
    return this.cluster.groups.length === 1 ? key : `${group.groupId}/${key}`;
  }

  private async write(group: SimGroup, client: string, target: PeerKey, key: string): Promise<boolean> {
    const value = this.nextValue++;
    const large = this.prng.chance(this.options.largeEntryChance);
    const data = encodeWrite(
      key,
      value,
      large ? this.prng.int(64 << 10, this.options.largeEntryMaxBytes) : 0,
    );
    const op = this.history.begin(client, this.historyKey(group, key), { type: "exchange", value });
    try {
      const { result } = await group.apply(target, data, 3000);
      op.ok({ previous: (result as RegisterWriteResult).previous });
      return true;
    } catch (error) {
      if (definitelyRefused(error)) op.fail();
      else op.unknown();
      return false;
    }
  }

  /** One read of `key`; lease reads only where the lease is on and valid. */
  private async read(group: SimGroup, client: string, target: PeerKey, key: string): Promise<boolean> {
    const process = group.process(target);
    const node = process.node;
    if (node === undefined || process.registers === undefined || this.cluster.paused(target)) return false;
    if (this.options.leaseReads && this.prng.chance(0.5) && node.isLeaderLeaseValid()) {
      this.history.instantRead(client, this.historyKey(group, key), process.registers.read(key));
      this.history.reads.lease++;
      return true;
    }
    const kind = node.isLeader() ? "leader" : this.isLearner(group, target) ? "learner" : "follower";
    const floor = group.checker.readStarted();
    const op = this.history.begin(client, this.historyKey(group, key), { type: "get" });
    try {
      const { index } = await node.readIndex({ timeoutMs: 3000 });
      const registers = group.process(target).registers;
      if (group.process(target).node !== node || registers === undefined) {
        op.unknown(); // the node crashed meanwhile: nothing to read
        return false;
      }
      op.ok({ previous: registers.read(key) });
      group.checker.observeRead(target, floor, index);
      this.history.reads[kind]++;
      return true;
    } catch {
      op.unknown();
      return false;
    }
  }

  private isLearner(group: SimGroup, peer: PeerKey): boolean {
    const leader = group.leader();
    if (leader === undefined) return false;
    return group.node(leader).getStatus().learners.includes(peer);
  }

  /** A node of `group` to call now: mostly the leader, else any; never a paused one (it cannot answer). */
  private target(group: SimGroup): PeerKey | undefined {
    const reachable = this.cluster.reachable();
    if (reachable.length === 0) return undefined;
    const leader = group.leader();
    if (this.prng.chance(0.75) && leader !== undefined && reachable.includes(leader)) return leader;
    return this.prng.pick(reachable);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.cluster.scheduler.schedule(ms, resolve));
  }
}
