/**
 * SimDisk semantics: writes become durable and visible only after their latency, in FIFO order;
 * a crash loses pending writes but may leave a prefix of a torn append; the LogStorage contract.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import { EMPTY_DATA, EntryType, type LogEntry } from "../../src/core/types.js";
import { Prng } from "../../src/testing/prng.js";
import { SimEnv } from "../../src/testing/sim-env.js";
import { SimScheduler } from "../../src/testing/sim-scheduler.js";
import { SimDisk, type SimDiskOptions } from "../../src/testing/sim-storage.js";

const LATENCY: SimDiskOptions = { minLatencyMs: 2, maxLatencyMs: 8 };

function entry(index: number, term = 1): LogEntry {
  return { index, term, type: EntryType.DATA, data: new Uint8Array([index & 0xff]) };
}

function entries(from: number, to: number, term = 1): LogEntry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
}

function setup(seed = 1) {
  const scheduler = new SimScheduler();
  const prng = new Prng(seed);
  const disk = new SimDisk(prng.fork("disk"));
  const boot = () => {
    const env = new SimEnv(scheduler, prng.fork(`env@${scheduler.nowMs}`));
    return { env, log: disk.openLog(env, LATENCY), meta: disk.openMeta(env, LATENCY) };
  };
  return { scheduler, disk, boot };
}

function watch(promise: Promise<unknown>): { done: boolean; error?: unknown } {
  const state: { done: boolean; error?: unknown } = { done: false };
  promise.then(
    () => void (state.done = true),
    (error: unknown) => void (state.error = error),
  );
  return state;
}

test("WritesBecomeVisibleOnlyWhenDurable", async () => {
  const { scheduler, disk, boot } = setup();
  const { log, meta } = boot();
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [1, 0]);
  assert.deepEqual(meta.getTermAndVotedFor(), { term: 0, votedFor: "" });
  const append = watch(log.appendEntries(entries(1, 3)));
  const vote = watch(meta.setTermAndVotedFor({ term: 2, votedFor: "b" }));
  await scheduler.runFor(1.99);
  assert.equal(log.lastLogIndex(), 0, "not visible before the minimum latency");
  assert.equal(disk.snapshotOfLog().length, 0);
  assert.deepEqual(meta.getTermAndVotedFor(), { term: 0, votedFor: "" });
  await scheduler.runFor(6.1);
  assert.ok(append.done && vote.done);
  assert.equal(log.lastLogIndex(), 3);
  assert.equal(log.getTerm(2), 1);
  assert.deepEqual(disk.hardState(), { term: 2, votedFor: "b" });
  assert.deepEqual(
    disk.snapshotOfLog().map((e) => e.index),
    [1, 2, 3],
  );
});

test("WritesCompleteInFifoOrder", async () => {
  const { scheduler, boot } = setup(9);
  const { log } = boot();
  const completed: string[] = [];
  const track = (label: string, promise: Promise<void>) => void promise.then(() => completed.push(label));
  // Pipelined: each append continues the one still in flight.
  for (let i = 0; i < 20; i++) track(`append ${i}`, log.appendEntries(entries(i * 5 + 1, i * 5 + 5)));
  track("suffix", log.truncateSuffix(60));
  track("append after suffix", log.appendEntries(entries(61, 62, 2)));
  track("prefix", log.truncatePrefix(11));
  await scheduler.runFor(500);
  assert.deepEqual(completed, [
    ...Array.from({ length: 20 }, (_, i) => `append ${i}`),
    "suffix",
    "append after suffix",
    "prefix",
  ]);
  assert.deepEqual(
    [log.firstLogIndex(), log.lastLogIndex(), log.getTerm(62), log.getTerm(60)],
    [11, 62, 2, 1],
  );
});

test("LogStorageContract", async () => {
  const { scheduler, boot } = setup();
  const { log } = boot();
  const conf = (index: number, peers: string[]): LogEntry => ({
    index,
    term: 1,
    type: EntryType.CONFIGURATION,
    data: EMPTY_DATA,
    conf: { peers },
  });
  await assert.rejects(log.appendEntries(entries(2, 3)), (e) => RaftError.is(e) && e.code === "EINVAL");
  await assert.rejects(
    log.appendEntries([entry(1), entry(3)]),
    (e) => RaftError.is(e) && e.code === "EINVAL",
  );
  void log.appendEntries([conf(1, ["a"]), entry(2), conf(3, ["a", "b"]), ...entries(4, 10)]);
  await scheduler.runFor(10);
  assert.equal(log.getTerm(0), 0);
  assert.equal(log.getTerm(11), 0);
  assert.equal(log.getEntry(11), undefined);
  assert.equal(log.getEntry(4)?.index, 4);

  void log.truncatePrefix(3);
  void log.truncateSuffix(8);
  await scheduler.runFor(20);
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex(), log.getTerm(2)], [3, 8, 0]);
  void log.truncatePrefix(20); // past the end: an empty log that starts there
  await scheduler.runFor(10);
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [20, 19]);
  void log.reset(100);
  void log.appendEntries(entries(100, 101));
  await scheduler.runFor(20);
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [100, 101]);
  await log.close();
  await assert.rejects(
    log.appendEntries(entries(102, 102)),
    (e) => RaftError.is(e) && e.code === "ESHUTDOWN",
  );

  const { scheduler: s2, boot: boot2 } = setup();
  const first = boot2().log;
  void first.appendEntries([conf(1, ["a"]), entry(2), conf(3, ["a", "b"])]);
  await s2.runFor(10);
  const seen: number[] = [];
  await first.init((e) => seen.push(e.index));
  assert.deepEqual(seen, [1, 3], "configuration entries, oldest first");
});

test("CrashLosesPendingWritesButMayKeepATornPrefix", async () => {
  const keptCounts = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    const { scheduler, disk, boot } = setup(seed);
    const first = boot();
    void first.log.appendEntries(entries(1, 4));
    await scheduler.runFor(10); // durable
    const torn = watch(first.log.appendEntries(entries(5, 12, 2)));
    const after = watch(first.log.appendEntries(entries(13, 14, 2)));
    const vote = watch(first.meta.setTermAndVotedFor({ term: 2, votedFor: "a" }));
    await scheduler.runFor(1);
    first.env.kill();
    disk.crash();
    await scheduler.runFor(100);
    assert.deepEqual([torn, after, vote], [{ done: false }, { done: false }, { done: false }]);

    const durable = disk.snapshotOfLog();
    const kept = durable.length - 4;
    keptCounts.add(kept);
    assert.ok(kept >= 0 && kept <= 8, `kept ${kept}`);
    assert.deepEqual(
      durable.map((e) => e.index),
      entries(1, 4 + kept).map((e) => e.index),
      "a prefix, never a hole",
    );
    assert.deepEqual(disk.hardState(), { term: 0, votedFor: "" });

    const second = boot();
    assert.equal(second.log.lastLogIndex(), 4 + kept);
    const zombie = watch(first.log.appendEntries(entries(99, 99)));
    const zombieClose = watch(first.log.close());
    void second.log.appendEntries(entries(5 + kept, 5 + kept, 3));
    await scheduler.runFor(100);
    assert.deepEqual(
      [zombie, zombieClose],
      [{ done: false }, { done: false }],
      "a dead incarnation never settles",
    );
    assert.equal(disk.logBounds().last, 5 + kept);
    assert.equal(
      first.log.lastLogIndex(),
      4 + kept,
      "a dead incarnation does not see its successor's writes",
    );
  }
  assert.ok(keptCounts.has(0) && keptCounts.has(8) && keptCounts.size >= 5, `kept: ${[...keptCounts]}`);
});

test("OnlyOneLiveIncarnationAtATime", async () => {
  const { scheduler, disk, boot } = setup();
  const first = boot();
  assert.throws(() => boot(), /already has the log open/);
  await first.log.close();
  await first.meta.close();
  boot(); // a clean shutdown frees the disk
  disk.crash();
  boot();
  assert.equal(scheduler.pendingEvents, 0);
});

test("DiskRunsAreDeterministic", async () => {
  const run = async (seed: number) => {
    const { scheduler, boot } = setup(seed);
    const { log } = boot();
    const times: number[] = [];
    for (let i = 1; i <= 10; i++) void log.appendEntries([entry(i)]).then(() => times.push(scheduler.nowMs));
    await scheduler.runFor(100);
    return times;
  };
  const first = await run(3);
  assert.equal(first.length, 10);
  assert.deepEqual(await run(3), first);
  assert.notDeepEqual(await run(4), first);
});
