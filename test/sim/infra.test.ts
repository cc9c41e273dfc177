/**
 * The simulator's foundations: virtual time, seeded randomness and the simulated Env. If these
 * are not deterministic, no seed printed by a failing simulation can be trusted to replay it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../../src/testing/prng.js";
import { SimEnv } from "../../src/testing/sim-env.js";
import { SimScheduler } from "../../src/testing/sim-scheduler.js";

test("SchedulerOrdersByTimeThenInsertion", async () => {
  const scheduler = new SimScheduler();
  const trace: string[] = [];
  const at = (label: string) => () => trace.push(`${label}@${scheduler.nowMs}`);
  scheduler.schedule(10, at("c"));
  scheduler.schedule(5, at("a"));
  scheduler.schedule(10, at("d"));
  scheduler.schedule(5, at("b"));
  const cancel = scheduler.schedule(7, at("cancelled"));
  scheduler.schedule(-3, at("now"));
  cancel();
  cancel(); // idempotent: must not decrement the count twice
  assert.equal(scheduler.pendingEvents, 5);
  await scheduler.runFor(9);
  assert.deepEqual(trace, ["now@0", "a@5", "b@5"]);
  assert.equal(scheduler.nowMs, 9);
  await scheduler.runFor(100);
  assert.deepEqual(trace, ["now@0", "a@5", "b@5", "c@10", "d@10"]);
  assert.equal(scheduler.nowMs, 109);
  assert.equal(scheduler.pendingEvents, 0);
});

test("SchedulerDrainsMicrotasksBetweenEvents", async () => {
  const scheduler = new SimScheduler();
  const trace: string[] = [];
  scheduler.schedule(1, () => {
    void (async () => {
      // A long promise chain, including a nested async function, finishes at the same instant.
      for (let i = 0; i < 100; i++) await Promise.resolve();
      await (async () => {
        await null;
        trace.push(`chain done@${scheduler.nowMs}`);
      })();
      process.nextTick(() => trace.push(`tick@${scheduler.nowMs}`));
    })();
  });
  scheduler.schedule(1, () => trace.push(`second event@${scheduler.nowMs}`));
  await scheduler.runFor(1);
  assert.deepEqual(trace, ["chain done@1", "tick@1", "second event@1"]);
});

test("SchedulerRunsWorkQueuedBetweenRunsAtTheCurrentInstant", async () => {
  const scheduler = new SimScheduler();
  await scheduler.runFor(10);
  const trace: string[] = [];
  scheduler.schedule(50, () => trace.push(`timer@${scheduler.nowMs}`));
  // A promise settled by the test body (or a harness) between two runs.
  void Promise.resolve().then(() => scheduler.schedule(1, () => trace.push(`follow-up@${scheduler.nowMs}`)));
  await scheduler.runFor(100);
  assert.deepEqual(trace, ["follow-up@11", "timer@60"]);
});

test("SchedulerRunUntilStopsAtTheInstantThePredicateHolds", async () => {
  const scheduler = new SimScheduler();
  let resolved = false;
  scheduler.schedule(30, () => void Promise.resolve().then(() => (resolved = true)));
  scheduler.schedule(40, () => assert.fail("must not run past the predicate"));
  assert.equal(await scheduler.runUntil(() => resolved, 100), true);
  assert.equal(scheduler.nowMs, 30);
  assert.equal(await scheduler.runUntil(() => false, 5), false);
  assert.equal(scheduler.nowMs, 35);
  assert.equal(scheduler.pendingEvents, 1);
});

test("SchedulerFailsLoudlyOnRunawayLoops", async () => {
  const spin = new SimScheduler({ maxEventsPerInstant: 1000 });
  const rearm = (): void => void spin.schedule(0, rearm);
  rearm();
  await assert.rejects(spin.runFor(10), /without time advancing/);

  const busy = new SimScheduler({ maxEventsPerRun: 500 });
  const tick = (): void => void busy.schedule(1, tick);
  tick();
  await assert.rejects(busy.runFor(10_000), /more than 500 events in one run/);

  const throwing = new SimScheduler();
  throwing.schedule(1, () => {
    throw new Error("boom");
  });
  await assert.rejects(throwing.runFor(5), /boom/);
  await throwing.runFor(5); // usable again after a failed run
});

/** A small random workload: events that schedule events and start promise chains. */
async function workloadTrace(seed: number): Promise<string[]> {
  const scheduler = new SimScheduler();
  const prng = new Prng(seed);
  const trace: string[] = [];
  const spawn = (id: number, depth: number): void => {
    scheduler.schedule(prng.int(0, 20), () => {
      trace.push(`${id}@${scheduler.nowMs}`);
      void Promise.resolve().then(() => trace.push(`${id}.then@${scheduler.nowMs}`));
      if (depth < 4 && prng.chance(0.7)) spawn(id * 2, depth + 1);
      if (depth < 4 && prng.chance(0.7)) spawn(id * 2 + 1, depth + 1);
    });
  };
  for (let i = 1; i <= 5; i++) spawn(i, 0);
  await scheduler.runFor(1000);
  return trace;
}

test("SchedulerSameSeedSameTrace", async () => {
  const first = await workloadTrace(42);
  assert.ok(first.length > 20, `workload too small: ${first.length}`);
  assert.deepEqual(await workloadTrace(42), first);
  assert.notDeepEqual(await workloadTrace(43), first);
});

test("PrngIsSeededAndForksAreStable", () => {
  const draw = (p: Prng): number[] => Array.from({ length: 8 }, () => p.next());
  assert.deepEqual(draw(new Prng(7)), draw(new Prng(7)));
  assert.notDeepEqual(draw(new Prng(7)), draw(new Prng(8)));
  // Seeds beyond 32 bits matter: a printed 53-bit seed must not collapse onto a smaller one.
  assert.notDeepEqual(draw(new Prng(2 ** 40 + 7)), draw(new Prng(7)));

  const root = new Prng(7);
  const before = draw(root.fork("net"));
  draw(root); // consuming the parent does not move its forks
  assert.deepEqual(draw(root.fork("net")), before);
  assert.notDeepEqual(draw(root.fork("disk")), before);
  assert.deepEqual(draw(new Prng(7, "/net")), before);
  assert.equal(root.fork("net").fork("n1").path, "/net/n1");

  const p = new Prng(1);
  for (let i = 0; i < 1000; i++) {
    const x = p.next();
    assert.ok(x >= 0 && x < 1);
  }
  const ints = new Set(Array.from({ length: 500 }, () => p.int(3, 6)));
  assert.deepEqual([...ints].sort(), [3, 4, 5, 6]);
  assert.equal(p.chance(0), false);
  assert.equal(p.chance(1), true);
  assert.equal(new Set(Array.from({ length: 200 }, () => p.pick(["a", "b", "c"]))).size, 3);
  assert.throws(() => p.pick([]), RangeError);
  assert.throws(() => p.int(5, 4), RangeError);
  assert.throws(() => new Prng(0.5), RangeError);
});

test("SimEnvKillSilencesPastAndFutureTimers", async () => {
  const scheduler = new SimScheduler();
  const env = new SimEnv(scheduler, new Prng(3));
  const fired: string[] = [];
  env.setTimer(() => fired.push("early"), 5);
  env.setTimer(() => fired.push("late"), 50);
  const cancel = env.setTimer(() => fired.push("cancelled"), 6);
  cancel();
  await scheduler.runFor(10);
  assert.deepEqual(fired, ["early"]);
  assert.equal(env.nowMs(), 10);
  assert.equal(env.pendingTimers, 1);

  env.kill();
  env.setTimer(() => fired.push("after kill"), 1);
  assert.equal(scheduler.pendingEvents, 0, "a killed env leaves nothing in the scheduler");
  await scheduler.runFor(100);
  assert.deepEqual(fired, ["early"]);
  assert.equal(env.alive, false);
  const expected = new Prng(3);
  assert.deepEqual([env.random(), env.random()], [expected.next(), expected.next()]);
});
