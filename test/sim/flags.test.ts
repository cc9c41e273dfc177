/**
 * braft's flags that shape batching, each read where braft reads it: every test sets the flag
 * and checks what only the flag explains, so it fails if the flag is ignored. Also the batching
 * itself (apply queue, log manager, FSMCaller): tests that fail if the batching is removed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { LogEntry } from "../../src/core/types.js";
import type { RaftFlags } from "../../src/node/flags.js";
import type { SnapshotCopyOptions } from "../../src/node/ports.js";
import type { Iterator } from "../../src/node/iterator.js";
import type { StateMachine } from "../../src/node/state-machine.js";
import type { LogStorage } from "../../src/storage/interfaces.js";
import type { SimCluster } from "../../src/testing/sim-cluster.js";
import { bytes, withCluster } from "./helpers.js";

/** Entries per storage append, per peer. */
type Appends = Map<string, number[]>;

function countingStorage(appends: Appends) {
  return (peer: string, storage: LogStorage): LogStorage => {
    const sizes: number[] = [];
    appends.set(peer, sizes);
    return new Proxy(storage, {
      get(target, name, receiver) {
        if (name === "appendEntries") {
          return (entries: readonly LogEntry[]) => {
            sizes.push(entries.length);
            return target.appendEntries(entries);
          };
        }
        const value: unknown = Reflect.get(target, name, receiver);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

/** onApply batch sizes, per peer. */
function countingFsm(batches: Map<string, number[]>) {
  return (peer: string): StateMachine => {
    const sizes: number[] = [];
    batches.set(peer, sizes);
    return {
      onApply(iter: Iterator) {
        let n = 0;
        for (; iter.valid(); iter.next()) n++;
        sizes.push(n);
      },
    };
  };
}

/** Applies `count` entries at once on the leader of a fresh one-node group and waits for them. */
async function burst(cluster: SimCluster, count: number, beforeBurst = (): void => {}): Promise<void> {
  await cluster.startAll();
  const leader = (await cluster.waitForLeader()) as string;
  await cluster.applyAndWait(bytes("warm-up"));
  await cluster.scheduler.runFor(100); // the warm-up's writes are done
  beforeBurst();
  const node = cluster.node(leader);
  const applies = Array.from({ length: count }, (_, i) => node.apply(bytes(`e${i}`)));
  await cluster.settle(Promise.all(applies));
}

async function leaderAppends(flags: Partial<RaftFlags>, count: number): Promise<number[]> {
  const appends: Appends = new Map();
  let before = 0;
  const sizes = (): number[] => [...appends.values()][0] ?? [];
  await withCluster(
    {
      seed: 71,
      nodes: 1,
      flags,
      wrapLogStorage: countingStorage(appends),
      disk: { minLatencyMs: 2, maxLatencyMs: 5 },
    },
    (cluster) => burst(cluster, count, () => (before = sizes().length)),
  );
  return sizes().slice(before); // the burst's appends only
}

test("ApplyQueueBatching: 64 concurrent applies reach the log storage in a few appends, not 64", async () => {
  const sizes = await leaderAppends({}, 64);
  const burstAppends = sizes.filter((n) => n > 0);
  const total = burstAppends.reduce((a, b) => a + b, 0);
  assert.ok(total >= 64, `the burst's entries were appended (${sizes.join(",")})`);
  assert.ok(burstAppends.length <= 4, `64 applies took ${burstAppends.length} appends (${sizes.join(",")})`);
});

test("LogManagerBatching: persist jobs queued behind a running write merge into one append", async () => {
  // One task per proposal: each entry is its own persist job, so only the LogManager merges them.
  const sizes = await leaderAppends({ raft_apply_batch: 1 }, 64);
  const burstAppends = sizes.filter((n) => n > 0);
  assert.equal(
    burstAppends.reduce((a, b) => a + b, 0),
    64,
    `the burst's entries were appended (${sizes.join(",")})`,
  );
  assert.ok(burstAppends.length <= 8, `64 jobs took ${burstAppends.length} appends (${sizes.join(",")})`);
});

/** Entries per AppendEntries the leader of a fresh three-node group sends for a burst of `count`. */
async function leaderSends(flags: Partial<RaftFlags>, count: number): Promise<number[]> {
  const sizes: number[] = [];
  await withCluster({ seed: 71, nodes: 3, flags, disk: { minLatencyMs: 2, maxLatencyMs: 5 } }, (cluster) =>
    burst(cluster, count, () => {
      const leader = cluster.leader();
      cluster.dropAppend = (from, request) => {
        if (from === leader && request.entries.length > 0) sizes.push(request.entries.length);
        return false;
      };
    }),
  );
  return sizes;
}

test("raft_apply_batch: a burst is proposed in batches of raft_apply_batch tasks", async () => {
  // Each proposal is replicated at once, so the first AppendEntries of the burst holds one batch.
  // (The leader's log writes merge: every batch of one drive goes into the same write.)
  const batched = await leaderSends({ raft_apply_batch: 4 }, 32);
  assert.equal(
    batched[0],
    4,
    `first AppendEntries of the burst holds raft_apply_batch entries (${batched.join(",")})`,
  );
  const whole = await leaderSends({}, 32);
  assert.equal(whole[0], 32, `with the default batch (32) the burst is one proposal (${whole.join(",")})`);
});

test("LogManagerBatching: the apply batches of one drive share one log write", async () => {
  const sizes = await leaderAppends({ raft_apply_batch: 4 }, 32);
  assert.ok(sizes.includes(32), `the burst's 8 batches went into one write (${sizes.join(",")})`);
});

test("raft_max_append_buffer_size: a merged log write ends once it holds that many data bytes", async () => {
  // One task per proposal, so each entry is its own persist job and only the merging bounds them.
  const small = await leaderAppends({ raft_apply_batch: 1, raft_max_append_buffer_size: 1 }, 16);
  assert.ok(
    small.every((n) => n <= 1),
    `each write holds one entry (${small.join(",")})`,
  );
  const large = await leaderAppends({ raft_apply_batch: 1 }, 16);
  assert.ok(
    large.some((n) => n > 1),
    `by default queued jobs merge (${large.join(",")})`,
  );
});

test("FSMCallerBatching: committed entries reach onApply in batches, and raft_fsm_caller_commit_batch bounds them", async () => {
  const run = async (flags: Partial<RaftFlags>): Promise<number[]> => {
    const batches = new Map<string, number[]>();
    await withCluster({ seed: 72, nodes: 3, flags, fsmFactory: countingFsm(batches) }, async (cluster) => {
      await burst(cluster, 40);
      await cluster.scheduler.runUntil(() => cluster.converged(), 10_000);
    });
    return [...batches.values()].flat();
  };
  const batched = await run({});
  assert.ok(
    batched.some((n) => n >= 10),
    `40 concurrent applies reach onApply in batches, not one entry per call (${batched.join(",")})`,
  );
  const bounded = await run({ raft_fsm_caller_commit_batch: 3 });
  assert.ok(
    bounded.every((n) => n <= 3),
    `no onApply call holds more than 3 entries (${bounded.join(",")})`,
  );
  assert.equal(
    bounded.reduce((a, b) => a + b, 0),
    batched.reduce((a, b) => a + b, 0),
    "the same entries were applied",
  );
});

test("raft_max_byte_count_per_rpc: a follower copies a snapshot asking for chunks of its node's flag", async () => {
  const seen: (number | undefined)[] = [];
  await withCluster(
    {
      seed: 73,
      nodes: 3,
      snapshots: { intervalS: 0, logMarginEntries: 0 },
      flags: { raft_max_byte_count_per_rpc: 4096 },
    },
    async (cluster) => {
      const transfer = cluster.snapshotTransfer as unknown as {
        copy: (to: string, uri: string, writer: unknown, options: SnapshotCopyOptions) => Promise<unknown>;
      };
      const copy = transfer.copy.bind(transfer);
      transfer.copy = (to, uri, writer, options) => {
        seen.push(options.maxByteCountPerRpc);
        return copy(to, uri, writer, options);
      };
      await cluster.startAll();
      const leader = (await cluster.waitForLeader()) as string;
      const follower = cluster.peers.find((peer) => peer !== leader) as string;
      await cluster.stop(follower);
      cluster.wipe(follower);
      for (let i = 0; i < 10; i++) await cluster.applyAndWait(bytes(`s${i}`));
      await cluster.settle(cluster.node(leader).snapshot());
      await cluster.start(follower);
      await cluster.scheduler.runUntil(() => seen.length > 0, 10_000);
    },
  );
  assert.ok(seen.length > 0, "the follower installed a snapshot");
  assert.deepEqual(new Set(seen), new Set([4096]));
});

/** How long after an EBUSY answer the leader sends entries to that follower again. */
async function retryGapMs(intervalMs: number): Promise<number> {
  let gap = Number.NaN;
  await withCluster(
    { seed: 74, nodes: 3, flags: { raft_retry_replicate_interval_ms: intervalMs } },
    async (cluster) => {
      await cluster.startAll();
      const leader = (await cluster.waitForLeader()) as string;
      await cluster.applyAndWait(bytes("warm-up"));
      const follower = cluster.peers.find((peer) => peer !== leader) as string;
      let busyAtMs: number | undefined;
      cluster.failAppend = (_from, to, request) => {
        if (to !== follower || request.entries.length === 0) return undefined;
        const nowMs = cluster.scheduler.nowMs;
        if (busyAtMs === undefined) {
          busyAtMs = nowMs;
          return new RaftError("EBUSY", "follower overloaded");
        }
        if (Number.isNaN(gap)) gap = nowMs - busyAtMs;
        return undefined;
      };
      for (let i = 0; i < 60 && Number.isNaN(gap); i++) {
        await cluster.applyAndWait(bytes(`r${i}`));
        await cluster.scheduler.runFor(50);
      }
    },
  );
  return gap;
}

test("raft_retry_replicate_interval_ms: a follower that answered EBUSY gets no entries for that long", async () => {
  const long = await retryGapMs(2000);
  assert.ok(long >= 2000, `entries resumed ${long} ms after EBUSY (flag 2000)`);
  const short = await retryGapMs(100);
  assert.ok(short < 1000, `entries resumed ${short} ms after EBUSY (flag 100)`);
});
