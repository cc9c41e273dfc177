/**
 * The linearizability checker on hand-made histories (each anomaly a chaos run could surface), on
 * histories generated from the model (always linearizable), and on a long history for speed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  checkLinearizability,
  formatHistory,
  type RegisterInput,
  type RegisterOperation,
} from "../../src/testing/index.js";
import { FC_SEED } from "../fc-seed.js";

// The same inputs on every run: npm test is reproducible.
fc.configureGlobal({ seed: FC_SEED });

type Spec = [
  client: number,
  call: number,
  ret: number | undefined,
  input: RegisterInput,
  previous?: bigint,
  success?: boolean,
];

const get = (): RegisterInput => ({ type: "get" });
const xchg = (value: bigint): RegisterInput => ({ type: "exchange", value });
const cas = (expected: bigint, value: bigint): RegisterInput => ({
  type: "compare_exchange",
  expected,
  value,
});

/** ret undefined = unknown; previous undefined with a ret = fail. */
function history(specs: readonly Spec[], key = "x"): RegisterOperation[] {
  return specs.map(([client, callMs, returnMs, input, previous, success]) => {
    if (returnMs === undefined) return { client, key, input, outcome: "unknown", callMs };
    if (previous === undefined) return { client, key, input, outcome: "fail", callMs, returnMs };
    return { client, key, input, outcome: "ok", callMs, returnMs, output: { previous, success } };
  });
}

const verdict = (specs: readonly Spec[]) => checkLinearizability(history(specs)).linearizable;

test("Linearizable: a sequential history of every operation", () => {
  assert.equal(
    verdict([
      [1, 0, 1, get(), 0n],
      [1, 2, 3, xchg(5n), 0n],
      [2, 4, 5, cas(5n, 6n), 5n, true],
      [2, 6, 7, cas(5n, 7n), 6n, false],
      [1, 8, 9, get(), 6n],
    ]),
    true,
  );
});

test("StaleRead: a get after an acknowledged exchange returns the old value", () => {
  const result = checkLinearizability(
    history([
      [1, 0, 1, xchg(1n), 0n],
      [2, 2, 3, get(), 0n],
    ]),
  );
  assert.equal(result.linearizable, false);
  assert.equal(result.failingKey, "x");
  assert.ok(formatHistory(result.counterexample ?? []).includes("get(x) = 0"));
});

test("LostWrite: one acknowledged exchange is dropped from the register's history", () => {
  // 1 <- 1, 1 <- 2 and 1 <- 3 all acknowledged in sequence; the last exchange saw 1, as if the
  // write of 2 never happened.
  assert.equal(
    verdict([
      [1, 0, 1, xchg(1n), 0n],
      [2, 2, 3, xchg(2n), 1n],
      [3, 4, 5, xchg(3n), 1n],
    ]),
    false,
  );
  // And noticed by a read long after, through many operations on other keys.
  const lost = history([
    [1, 0, 1, xchg(1n), 0n],
    [2, 2, 3, xchg(2n), 1n],
    [1, 10, 11, get(), 1n],
  ]);
  const other = Array.from(
    { length: 200 },
    (_, i) => history([[3, i, i + 0.5, xchg(BigInt(i + 1)), BigInt(i)]], "y")[0]!,
  );
  const result = checkLinearizability([...other, ...lost]);
  assert.equal(result.linearizable, false);
  assert.equal(result.failingKey, "x");
  assert.ok((result.counterexample?.length ?? 0) <= 3, formatHistory(result.counterexample ?? []));
});

test("CasAnomalies: a CAS that succeeded against the wrong value, or failed against the right one", () => {
  assert.equal(verdict([[1, 0, 1, cas(1n, 2n), 0n, true]]), false);
  assert.equal(verdict([[1, 0, 1, cas(0n, 2n), 0n, false]]), false);
  assert.equal(
    verdict([
      [1, 0, 1, cas(0n, 2n), 0n, true],
      [2, 2, 3, cas(0n, 3n), 0n, true], // both won the same race
    ]),
    false,
  );
  assert.equal(
    verdict([
      [1, 0, 3, cas(0n, 2n), 0n, true],
      [2, 1, 2, cas(0n, 3n), 0n, false], // overlapping: it lost if it ran after, but it saw 0
    ]),
    false,
  );
});

test("Concurrent: overlapping operations may take effect in either order", () => {
  const writes: Spec[] = [
    [1, 0, 10, xchg(1n), 0n],
    [2, 1, 11, xchg(2n), 1n],
  ];
  assert.equal(verdict(writes), true);
  assert.equal(
    verdict([
      [1, 0, 10, xchg(1n), 2n],
      [2, 1, 11, xchg(2n), 0n],
    ]),
    true,
  );
  // A get overlapping both may see either; two sequential gets may not go back in time.
  assert.equal(verdict([...writes, [3, 2, 3, get(), 1n], [3, 4, 5, get(), 2n]]), true);
  assert.equal(verdict([...writes, [3, 2, 3, get(), 2n], [3, 4, 5, get(), 1n]]), false);
  // Operations that only touch (one's return time is the other's call time) count as concurrent.
  assert.equal(
    verdict([
      [1, 0, 5, xchg(1n), 0n],
      [2, 5, 6, get(), 0n],
    ]),
    true,
  );
});

test("Unknown: an operation of unknown outcome may have happened or not", () => {
  const happened: Spec[] = [
    [1, 0, undefined, xchg(7n)],
    [2, 5, 6, get(), 7n],
  ];
  const didNot: Spec[] = [
    [1, 0, undefined, xchg(7n)],
    [2, 5, 6, get(), 0n],
  ];
  assert.equal(verdict(happened), true);
  assert.equal(verdict(didNot), true);
  // ... but not both: once seen, it stays.
  assert.equal(verdict([...happened, [2, 7, 8, get(), 0n]]), false);
  // An unknown CAS that took effect.
  assert.equal(
    verdict([
      [1, 0, undefined, cas(0n, 4n)],
      [2, 5, 6, get(), 4n],
    ]),
    true,
  );
  // A value nobody wrote is never explained by an unknown operation.
  assert.equal(
    verdict([
      [1, 0, undefined, xchg(7n)],
      [2, 5, 6, get(), 8n],
    ]),
    false,
  );
});

test("Fail: a failed operation certainly did not happen", () => {
  assert.equal(
    verdict([
      [1, 0, 1, xchg(7n)], // failed
      [2, 2, 3, get(), 0n],
    ]),
    true,
  );
  assert.equal(
    verdict([
      [1, 0, 1, xchg(7n)],
      [2, 2, 3, get(), 7n],
    ]),
    false,
  );
});

test("TooComplex: a search over its step budget says unknown instead of hanging", () => {
  const specs: Spec[] = Array.from(
    { length: 40 },
    (_, i) => [i, 0, 100, xchg(BigInt(i + 1)), BigInt(i)] as Spec,
  );
  // Reversed chain: every exchange saw the next one's value; linearizable only as one order.
  const reversed: Spec[] = specs.map(([c, a, b, input], i) => [c, a, b, input, BigInt(i === 39 ? 0 : i + 2)]);
  const result = checkLinearizability(history(reversed), { maxSteps: 50 });
  assert.equal(result.linearizable, "unknown");
  assert.equal(checkLinearizability(history(reversed)).linearizable, true);
});

/** A sequential run of the model, with random overlap that keeps every real-time constraint. */
function modelHistory(
  ops: readonly { key: number; kind: number; a: number; b: number; client: number }[],
  unknownEvery: number,
): RegisterOperation[] {
  const state = new Map<string, bigint>();
  return ops.map(({ key, kind, a, b, client }, i) => {
    const k = `k${key}`;
    const before = state.get(k) ?? 0n;
    let input: RegisterInput;
    let success: boolean | undefined;
    if (kind === 0) input = get();
    else if (kind === 1) {
      input = xchg(BigInt(a));
      state.set(k, BigInt(a));
    } else {
      const expected = b % 2 === 0 ? before : BigInt(b);
      input = cas(expected, BigInt(a));
      success = expected === before;
      if (success) state.set(k, BigInt(a));
    }
    // Operation i takes effect at time 10*i; its call and return spread around it.
    const callMs = 10 * i - (i % 3) * 4;
    const returnMs = 10 * i + (i % 5) * 4;
    if (unknownEvery > 0 && i % unknownEvery === unknownEvery - 1) {
      return { client, key: k, input, outcome: "unknown", callMs };
    }
    return { client, key: k, input, outcome: "ok", callMs, returnMs, output: { previous: before, success } };
  });
}

test("Property: histories produced by the model are linearizable", () => {
  const op = fc.record({
    key: fc.integer({ min: 0, max: 2 }),
    kind: fc.integer({ min: 0, max: 2 }),
    a: fc.integer({ min: 0, max: 5 }),
    b: fc.integer({ min: 0, max: 5 }),
    client: fc.integer({ min: 0, max: 4 }),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.integer({ min: 0, max: 4 }), (ops, unknownEvery) => {
      const result = checkLinearizability(modelHistory(ops, unknownEvery));
      assert.equal(result.linearizable, true, formatHistory(result.counterexample ?? []));
    }),
    { numRuns: 300 },
  );
});

test("Speed: 5000 operations on one key with overlap need about one search step per operation", () => {
  const ops = Array.from({ length: 5000 }, (_, i) => ({
    key: 0,
    kind: i % 3,
    a: i + 1, // unique values, as the chaos clients write
    b: i % 4,
    client: i % 8,
  }));
  // Steps, not milliseconds: a count is the same on any machine.
  const result = checkLinearizability(modelHistory(ops, 7), { maxSteps: 2 * ops.length });
  assert.equal(result.linearizable, true);
});

/** 2,000 exchanges in sequence, and beside every tenth an unknown exchange (value -i-1). */
function chainWithUnknowns(): Spec[] {
  const specs: Spec[] = [];
  for (let i = 0; i < 2000; i++) {
    specs.push([1, 10 * i, 10 * i + 5, xchg(BigInt(i + 1)), BigInt(i)]);
    if (i % 10 === 0) specs.push([2 + i, 10 * i + 1, undefined, xchg(BigInt(-i - 1))]);
  }
  return specs;
}

test("UnseenUnknowns: unknown writes nobody observed do not multiply the search", () => {
  // Each unknown stays open to the end of the history; a search that kept them would try every
  // one of them at every step (about 200,000 steps here).
  const specs = chainWithUnknowns();
  const budget = { maxSteps: 2 * specs.length };
  assert.equal(checkLinearizability(history(specs), budget).linearizable, true);
  // A write somebody saw is kept: the last get can only see -1 if that exchange came last.
  const seen: Spec[] = [...specs, [9000, 20_000, 20_005, get(), -1n]];
  assert.equal(verdict(seen), true);
  assert.equal(verdict([...seen, [9001, 20_010, 20_015, get(), 2000n]]), false);
  // And a violation among them is still found.
  const lost = specs.map((spec): Spec =>
    spec[4] === 1000n ? [spec[0], spec[1], spec[2], spec[3], 999n] : spec,
  );
  assert.equal(checkLinearizability(history(lost), budget).linearizable, false);
});
