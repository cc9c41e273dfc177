/**
 * The simulator's own machinery: the clock model the lease relies on, the incremental checkers
 * (log matching on durable writes, never behind what a node acknowledged) and the client history.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppendEntriesRequest } from "../../src/core/messages.js";
import { EntryType, type LogEntry } from "../../src/core/types.js";
import { SafetyChecker } from "../../src/testing/checkers.js";
import { DurabilityChecker } from "../../src/testing/durability-checker.js";
import { Prng } from "../../src/testing/prng.js";
import { maxSafeClockRate, SimClock } from "../../src/testing/sim-clock.js";
import { SimEnv } from "../../src/testing/sim-env.js";
import { SimHistory } from "../../src/testing/sim-history.js";
import { SimScheduler } from "../../src/testing/sim-scheduler.js";
import { SimDisk } from "../../src/testing/sim-storage.js";

function entry(index: number, term: number, byte = index): LogEntry {
  return { index, term, type: EntryType.DATA, data: new Uint8Array([byte & 0xff]) };
}

test("SimClock: within the safe rate, a voter's timeout plus drift outlasts any leader's lease in real time", () => {
  const timeout = 1000;
  for (const drift of [200, 500, 1000]) {
    const leaderTimeout = timeout + drift / 2;
    const rate = maxSafeClockRate(timeout, drift, leaderTimeout);
    const slowLeader = new SimClock(0, -rate);
    const fastVoter = new SimClock(12345, rate);
    const leaseRealMs = slowLeader.virtualDelayMs(leaderTimeout);
    const protectionRealMs = fastVoter.virtualDelayMs(timeout + drift);
    assert.ok(protectionRealMs >= leaseRealMs - 1e-9, `drift ${drift}: ${protectionRealMs} < ${leaseRealMs}`);
    const beyond = new SimClock(0, -(rate + 0.01)).virtualDelayMs(leaderTimeout);
    assert.ok(new SimClock(0, rate + 0.01).virtualDelayMs(timeout + drift) < beyond, "the bound is tight");
  }
});

test("SimEnv: timers run on the machine's clock and wait out a pause", async () => {
  const scheduler = new SimScheduler();
  const clock = new SimClock(500, 0.25);
  const env = new SimEnv(scheduler, new Prng(1), clock);
  assert.equal(env.nowMs(), 500);
  let firedAt: number | undefined;
  env.setTimer(() => (firedAt = scheduler.nowMs), 100); // 100 local ms = 80 virtual ms
  await scheduler.runFor(200);
  assert.equal(firedAt, 80);
  clock.pause(scheduler.nowMs, 1000);
  firedAt = undefined;
  env.setTimer(() => (firedAt = scheduler.nowMs), 10);
  await scheduler.runFor(500);
  assert.equal(firedAt, undefined, "nothing runs while paused");
  await scheduler.runFor(1000);
  assert.equal(firedAt, 1200, "the timer fires when the pause ends");
  assert.equal(env.nowMs(), 500 + 1.25 * 1700, "and the clock shows the whole pause");
});

test("SafetyChecker: log matching on durable writes catches a copy with other data or another history", () => {
  const checker = new SafetyChecker();
  checker.observeDurableAppend("a", [entry(1, 1), entry(2, 2)], undefined);
  checker.observeDurableAppend("b", [entry(1, 1), entry(2, 2)], undefined);
  assert.deepEqual(checker.violations, []);
  checker.observeDurableAppend("c", [entry(2, 2, 99)], 1);
  assert.match(checker.violations[0] ?? "", /entry 2 of term 2 holds different data on c/);
  checker.observeDurableAppend("d", [entry(2, 2)], 0);
  assert.match(checker.violations[1] ?? "", /entry 2 of term 2 follows term 0/);
});

test("SafetyChecker: a node that applies past an entry another node applied is caught at once", () => {
  const checker = new SafetyChecker();
  checker.nodeStarted("a");
  checker.nodeStarted("b");
  checker.observeApply("a", 1, 1, new Uint8Array([1]));
  checker.observeApply("a", 2, 1, new Uint8Array([2]));
  checker.observeApply("b", 2, 1, new Uint8Array([2]));
  assert.match(checker.violations[0] ?? "", /b applied entry 2 but skipped entry 1/);
  checker.observeApply("b", 3, 1, new Uint8Array([3]));
  checker.observeApply("a", 3, 1, new Uint8Array([3]));
  checker.nodeStarted("c");
  checker.observeApply("c", 5, 1, new Uint8Array([5]));
  checker.observeApply("a", 4, 1, new Uint8Array([4]));
  assert.match(checker.violations.at(-1) ?? "", /c applied past entry 4 without applying it/);
});

test("DurabilityChecker: an acknowledgement before the entry is durable, and a restart that lost it", async () => {
  const scheduler = new SimScheduler();
  const disk = new SimDisk(new Prng(7));
  const violations: string[] = [];
  const durability = new DurabilityChecker((message) => violations.push(message));
  disk.observer = { appended: () => undefined, truncated: (kept) => durability.observeTruncation("n", kept) };
  const env = new SimEnv(scheduler, new Prng(8));
  const log = disk.openLog(env, { minLatencyMs: 5, maxLatencyMs: 5 });
  const request = (entries: LogEntry[]): AppendEntriesRequest => ({
    groupId: "g",
    serverId: "leader",
    peerId: "n",
    term: 1,
    prevLogIndex: 0,
    prevLogTerm: 0,
    entries,
    committedIndex: 0,
  });
  const written = log.appendEntries([entry(1, 1), entry(2, 1)]);
  durability.observeAppendSuccess("n", request([entry(1, 1), entry(2, 1)]), disk);
  assert.match(violations[0] ?? "", /acknowledged entry 2 of term 1 to leader before it was durable/);
  await scheduler.runFor(10);
  await written;
  durability.observeAppendSuccess("n", request([entry(1, 1), entry(2, 1)]), disk);
  assert.equal(violations.length, 1, "durable now: no new violation");
  durability.bootStarted("n");
  disk.observer.truncated(1); // the node's own start-up drops entry 2
  assert.match(violations[1] ?? "", /dropped entry 2 of term 1 .* while starting/);
});

test("SimHistory: operations never settled count as unknown, and a stale read is not linearizable", () => {
  const history = new SimHistory();
  history.begin("c0", "k0", { type: "exchange", value: 1n }).ok({ previous: 0n });
  history.begin("c1", "k0", { type: "exchange", value: 2n }); // never settles
  assert.equal(history.check(), undefined);
  history.instantRead("c2", "k0", 0n); // after 1 was acknowledged: stale
  assert.match(history.check() ?? "", /not linearizable on k0/);
});
