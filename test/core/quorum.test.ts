import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { majorityValue, majorityVoteResult, quorumValue, quorumVoteResult } from "../../src/core/quorum.js";
import { FC_SEED } from "../fc-seed.js";

// The same inputs on every run: npm test is reproducible.
fc.configureGlobal({ seed: FC_SEED });

/** The definition, checked by brute force: the largest v that more than half reach. */
function naiveMajorityValue(values: number[]): number {
  let best = Number.NEGATIVE_INFINITY;
  for (const candidate of values) {
    const reached = values.filter((v) => v >= candidate).length;
    if (reached * 2 > values.length && candidate > best) best = candidate;
  }
  return best;
}

const peersWithValues = fc.array(fc.nat(1000), { minLength: 1, maxLength: 9 });

test("majorityValue agrees with the naive definition", () => {
  fc.assert(
    fc.property(peersWithValues, (values) => {
      const peers = values.map((_, i) => `p${i}`);
      const got = majorityValue(peers, (p) => values[Number(p.slice(1))] as number);
      assert.equal(got, naiveMajorityValue(values));
    }),
  );
});

test("a joint quorum needs both halves", () => {
  fc.assert(
    fc.property(peersWithValues, peersWithValues, (newValues, oldValues) => {
      const current = newValues.map((_, i) => `n${i}`);
      const old = oldValues.map((_, i) => `o${i}`);
      const valueOf = (p: string): number =>
        (p.startsWith("n") ? newValues : oldValues)[Number(p.slice(1))] as number;
      const got = quorumValue({ current, old }, valueOf);
      assert.equal(got, Math.min(naiveMajorityValue(newValues), naiveMajorityValue(oldValues)));
    }),
  );
});

test("a non-joint configuration ignores the empty old half", () => {
  assert.equal(
    quorumValue({ current: ["a", "b", "c"], old: [] }, (p) => ({ a: 5, b: 3, c: 1 })[p] ?? 0),
    3,
  );
});

test("vote results: won, lost and pending", () => {
  const voters = ["a", "b", "c", "d", "e"];
  const answers = (granted: string[], refused: string[]) => (p: string) =>
    granted.includes(p) ? true : refused.includes(p) ? false : undefined;
  assert.equal(majorityVoteResult(voters, answers(["a", "b", "c"], [])), "won");
  assert.equal(majorityVoteResult(voters, answers(["a", "b"], ["c", "d"])), "pending");
  assert.equal(majorityVoteResult(voters, answers(["a"], ["c", "d", "e"])), "lost");
  const joint = { current: ["a", "b", "c"], old: ["c", "d", "e"] };
  assert.equal(quorumVoteResult(joint, answers(["a", "b"], [])), "pending");
  assert.equal(quorumVoteResult(joint, answers(["a", "b", "d", "e"], [])), "won");
  assert.equal(quorumVoteResult(joint, answers(["a", "b", "c"], ["d", "e"])), "lost");
});
