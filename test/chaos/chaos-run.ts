/**
 * One chaos run: five atomic example servers as processes, peer traffic through a FaultProxy,
 * concurrent clients recording every call, nemeses one at a time with healing between; then
 * heal everything, require every node to converge on the same state, and check the history for
 * linearizability.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AtomicClient, type CallOutcome } from "../../examples/atomic/atomic-client.js";
import { FaultProxy } from "../../src/testing/fault-proxy.js";
import { freePorts } from "../../src/testing/free-ports.js";
import {
  checkLinearizability,
  formatHistory,
  type RegisterInput,
  type RegisterOperation,
} from "../../src/testing/linearizability.js";
import { Prng } from "../../src/testing/prng.js";
import { AtomicCluster, waitFor, type AtomicStatus } from "./atomic-cluster.js";
import { braftAtomicServer, buildConnectShim } from "./braft-atomic.js";
import { NEMESES } from "./nemesis.js";

export interface ChaosOptions {
  readonly timeS: number;
  readonly seed: number;
  readonly nodes?: number | undefined;
  readonly clients?: number | undefined;
  readonly keys?: number | undefined;
  readonly clientTimeoutMs?: number | undefined;
  readonly electionTimeoutMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
  readonly verbose?: boolean | undefined;
  /** Servers answer gets without ReadIndex: a deliberate bug the run must catch. */
  readonly unsafeLocalReads?: boolean | undefined;
  /** Leader lease on; gets on the leader are served inside it (braft's lease read). */
  readonly leaseReads?: boolean | undefined;
  /** Half the clients send gets to any server; followers answer through ReadIndex. */
  readonly followerReads?: boolean | undefined;
  /** Only these nemeses (by name); all by default. */
  readonly nemeses?: readonly string[] | undefined;
  /** How many of the nodes run braft's own atomic_server (braft-atomic.ts); 0 by default. */
  readonly braft?: number | undefined;
  /** Where braft's binaries are (braftBinDir's default when absent). */
  readonly braftBinDir?: string | undefined;
}

export interface ChaosResult {
  readonly ops: number;
  readonly ok: number;
  readonly fail: number;
  readonly unknown: number;
  readonly linearizable: boolean | "unknown";
  readonly converged: boolean;
  readonly nemeses: readonly string[];
  /** Gets answered per read path, summed over the processes alive at the end (restarts reset them). */
  readonly reads: ReadCounts | undefined;
  /** The summary line and, on a violation, the failing sub-history. */
  readonly report: string;
}

type ReadCounts = AtomicStatus["reads"];

/** Gets per read path over every node's counters. */
function sumReads(statuses: readonly AtomicStatus[]): ReadCounts {
  return statuses.reduce<ReadCounts>(
    (sum, { reads }) => ({
      lease: sum.lease + reads.lease,
      readIndex: sum.readIndex + reads.readIndex,
      follower: sum.follower + reads.follower,
    }),
    { lease: 0, readIndex: 0, follower: 0 },
  );
}

/** The id of the key a recorded operation touched. */
const keyId = (key: string): bigint => BigInt(key);

class Recorder {
  readonly history: RegisterOperation[] = [];

  record(client: number, key: bigint, input: RegisterInput, callMs: number, outcome: CallOutcome): void {
    const base = { client, key: String(key), input, callMs };
    if (outcome.outcome !== "ok") {
      this.history.push({ ...base, outcome: outcome.outcome });
      return;
    }
    const r = outcome.response;
    this.history.push({
      ...base,
      outcome: "ok",
      returnMs: performance.now(),
      output: { previous: r.oldValue, success: input.type === "compare_exchange" ? r.success : undefined },
    });
  }
}

/** A client loop: random operations on a few keys, writing values no one else writes. */
async function clientLoop(
  id: number,
  client: AtomicClient,
  prng: Prng,
  keys: number,
  recorder: Recorder,
  running: () => boolean,
): Promise<void> {
  const lastSeen = new Map<bigint, bigint>();
  let sequence = 0;
  while (running()) {
    const key = BigInt(prng.int(1, keys));
    const unique = BigInt(id * 1_000_000 + ++sequence);
    const kind = prng.int(0, 2);
    const input: RegisterInput =
      kind === 0
        ? { type: "get" }
        : kind === 1
          ? { type: "exchange", value: unique }
          : { type: "compare_exchange", expected: lastSeen.get(key) ?? 0n, value: unique };
    const callMs = performance.now();
    const outcome =
      input.type === "get"
        ? await client.get(key)
        : input.type === "exchange"
          ? await client.exchange(key, input.value)
          : await client.compareExchange(key, input.expected, input.value);
    recorder.record(id, key, input, callMs, outcome);
    if (outcome.outcome === "ok") {
      const r = outcome.response;
      lastSeen.set(key, input.type === "get" || !r.success ? r.oldValue : r.newValue);
    } else {
      // Back off a little so a leaderless cluster is not hammered.
      await new Promise((resolve) => setTimeout(resolve, prng.int(5, 50)));
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Heals every fault: network, stopped and killed processes, and membership. */
async function healEverything(
  cluster: AtomicCluster,
  proxy: FaultProxy,
  log: (line: string) => void,
): Promise<void> {
  proxy.healAll({ reset: true });
  for (const port of cluster.alive()) cluster.resume(port);
  for (const port of cluster.ports) {
    if (!cluster.alive().includes(port)) await cluster.start(port);
  }
  const leader = await cluster.waitForLeader(30_000);
  const status = await cluster.status(leader);
  for (const peer of cluster.peers) {
    if (status.peers.includes(peer)) continue;
    log(`final heal: add_peer ${peer}`);
    await waitFor(
      `add_peer ${peer}`,
      async () => {
        const current = await cluster.leader();
        if (current === undefined) return undefined;
        const reply = (await cluster.admin(current, "add_peer", peer, 10_000)) as {
          ok: boolean;
          code?: string;
        };
        return reply.ok || reply.code === "EINVAL" ? true : undefined;
      },
      30_000,
    );
  }
}

/** A map without its zero values: braft's example keeps a 0 for a key a failed CAS touched, tsraft's may not. */
const nonZero = (values: readonly [string, string][]): string =>
  JSON.stringify(values.filter(([, value]) => value !== "0"));

/** Every node reports the same applied index and map, and a leader with every peer. */
async function converge(cluster: AtomicCluster, client: AtomicClient): Promise<AtomicStatus[]> {
  // A fresh write through the leader commits everything before it in the new term.
  await waitFor("a final write", async () => {
    const outcome = await client.exchange(0n, 0n);
    return outcome.outcome === "ok" ? true : undefined;
  });
  return waitFor(
    "every node to apply the same state",
    async () => {
      const statuses = await Promise.all(cluster.ports.map((port) => cluster.status(port)));
      const [first, ...rest] = statuses;
      if (first === undefined || first.peers.length !== cluster.ports.length) return undefined;
      if (!rest.every((s) => s.appliedIndex === first.appliedIndex)) return undefined;
      // Only now ask for the maps: a braft node shows its map by writing a snapshot.
      const maps = await Promise.all(cluster.ports.map((port) => cluster.values(port, first.appliedIndex)));
      return maps.every((map) => nonZero(map) === nonZero(maps[0] ?? [])) ? statuses : undefined;
    },
    30_000,
  );
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? (() => undefined);
  const prng = new Prng(options.seed);
  const started = performance.now();
  const stamp = (line: string): void =>
    log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);
  const ports = await freePorts(options.nodes ?? 5);
  const braftPorts = ports.slice(0, options.braft ?? 0);
  if (braftPorts.length !== (options.braft ?? 0))
    throw new Error(`--braft ${options.braft} > ${ports.length} nodes`);
  // Before anything starts: a missing binary or compiler fails here, with its reason.
  const braftServer = braftPorts.length > 0 ? braftAtomicServer(options.braftBinDir) : undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-chaos-"));
  const braft =
    braftServer === undefined
      ? undefined
      : {
          server: braftServer,
          connectShim: await buildConnectShim(dataDir).catch((error: unknown) => {
            rmSync(dataDir, { recursive: true, force: true });
            throw error;
          }),
        };
  const proxy = await FaultProxy.start(ports.map((port) => `127.0.0.1:${port}`));
  const cluster = new AtomicCluster(ports, dataDir, {
    braftPorts,
    braft,
    proxy,
    electionTimeoutMs: options.electionTimeoutMs ?? 1000,
    snapshotIntervalS: 5,
    verbose: options.verbose,
    unsafeLocalReads: options.unsafeLocalReads,
    leaseReads: options.leaseReads,
    followerReads: options.followerReads,
  });
  const recorder = new Recorder();
  const clientTimeoutMs = options.clientTimeoutMs ?? 2000;
  const clients = Array.from(
    { length: options.clients ?? 8 },
    (_, i) =>
      new AtomicClient(cluster.peers, {
        timeoutMs: clientTimeoutMs,
        firstGuess: i,
        // Follower reads: every other client reads from any server, the rest from the leader.
        readFromAny: options.unsafeLocalReads === true || (options.followerReads === true && i % 2 === 1),
      }),
  );
  const admin = new AtomicClient(cluster.peers, { timeoutMs: clientTimeoutMs });
  const nemeses: string[] = [];
  let running = true;
  let converged = false;
  let reads: ReadCounts | undefined;
  try {
    const kinds = ports.map((port) => `${port}:${cluster.kindOf(port)}`);
    stamp(`seed=${options.seed} nodes=${kinds.join(",")} data=${dataDir}`);
    await cluster.startAll();
    await cluster.waitForLeader(30_000);
    const loops = clients.map((client, i) =>
      clientLoop(i + 1, client, prng.fork(`client${i + 1}`), options.keys ?? 4, recorder, () => running),
    );
    const faults = prng.fork("nemesis");
    const chosen = NEMESES.filter((n) => options.nemeses === undefined || options.nemeses.includes(n.name));
    if (chosen.length === 0) throw new Error(`no nemesis among ${options.nemeses?.join(", ")}`);
    // The fault window starts once the cluster is up: on a loaded machine starting five
    // processes can take most of a short run, which then injects nothing.
    const endAt = performance.now() + options.timeS * 1000;
    const ctx = { cluster, proxy, prng: faults, log: stamp };
    await sleep(faults.int(500, 1500));
    while (performance.now() + 4000 < endAt) {
      const nemesis = faults.pick(chosen);
      nemeses.push(nemesis.name);
      const heal = await nemesis.inject(ctx);
      await sleep(Math.min(faults.int(1000, 4000), Math.max(0, endAt - performance.now() - 1000)));
      await heal();
      await sleep(Math.min(faults.int(500, 2000), Math.max(0, endAt - performance.now())));
    }
    running = false;
    await Promise.all(loops);
    stamp("heal everything");
    await healEverything(cluster, proxy, stamp);
    const statuses = await converge(cluster, admin).catch(async (error: unknown) => {
      stamp(`no convergence: ${String(error)}\n${await cluster.describe()}`);
      return undefined;
    });
    converged = statuses !== undefined;
    if (statuses !== undefined) {
      reads = sumReads(statuses);
      stamp(`converged: applied index ${statuses[0]?.appliedIndex} on every node`);
      // Final reads join the history: the end state must agree with everything acknowledged.
      for (let key = 1; key <= (options.keys ?? 4); key++) {
        const callMs = performance.now();
        recorder.record(0, BigInt(key), { type: "get" }, callMs, await admin.get(keyId(String(key))));
      }
    }
  } finally {
    running = false;
    for (const client of [...clients, admin]) client.close();
    await cluster.stopAll();
    await proxy.close();
    if (converged) rmSync(dataDir, { recursive: true, force: true });
    else stamp(`data kept in ${dataDir}`);
  }
  const { history } = recorder;
  const count = (outcome: string): number => history.filter((op) => op.outcome === outcome).length;
  const checkStarted = performance.now();
  const check = checkLinearizability(history);
  const checkMs = Math.round(performance.now() - checkStarted);
  const mix =
    braftPorts.length === 0
      ? ""
      : `nodes=braft:${braftPorts.length},tsraft:${ports.length - braftPorts.length} `;
  const summary = `${mix}ops=${history.length} ok=${count("ok")} fail=${count("fail")} unknown=${count("unknown")} linearizable=${check.linearizable} converged=${converged} check_ms=${checkMs}${
    reads === undefined
      ? ""
      : ` reads=lease:${reads.lease},readindex:${reads.readIndex},follower:${reads.follower}`
  }`;
  let report = summary;
  if (check.linearizable === false) {
    const firstMs = Math.min(
      ...[...(check.counterexample ?? []), ...(check.context ?? [])].map((op) => op.callMs),
    );
    const firstCallS = ((firstMs - started) / 1000).toFixed(1);
    report +=
      `\nkey ${check.failingKey} is not linearizable; a failing sub-history from ${firstCallS} s into the run` +
      ` ("ctx": writers of values it observes, not needed for the violation):\n` +
      formatHistory(check.counterexample ?? [], check.context ?? []);
  }
  if (check.linearizable !== true) {
    // Keep the history, so the checker can be run on it again without another run.
    const file = join(tmpdir(), `tsraft-chaos-history-${options.seed}-${Date.now()}.json`);
    writeFileSync(
      file,
      JSON.stringify(history, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v)),
    );
    report += `\nhistory written to ${file}`;
  }
  if (check.linearizable === "unknown") {
    report += `\nsearch budget exceeded on: ${check.keys
      .filter((k) => k.verdict === "unknown")
      .map((k) => k.key)
      .join(", ")}`;
  }
  return {
    ops: history.length,
    ok: count("ok"),
    fail: count("fail"),
    unknown: count("unknown"),
    linearizable: check.linearizable,
    converged,
    nemeses,
    reads,
    report,
  };
}
