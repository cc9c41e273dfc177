/**
 * braft's triggered vote (`vote(election_timeout_ms)`, tsraft's `RaftNode.vote`) on a tsraft
 * follower of a mixed atomic group whose leader is a live braft node: leadership moves to the
 * tsraft node, with the leader lease off and on (where braft's followers refuse votes inside
 * their lease until the leader they follow says it is disrupted).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { triggerVote } from "./atomic-admin.js";
import { braftUnavailable } from "./braft-bin.js";
import { MixedCluster, type InteropNode, type NodeKind } from "./mixed-cluster.js";
import { waitFor } from "./processes.js";
import { committedIndex, transferByBraftCli } from "./steps.js";

const skip = braftUnavailable();
if (skip !== false) console.log(`# interop skipped: ${skip}`);

const ELECTION_TIMEOUT_MS = 2000;

const CASES: readonly { kinds: readonly NodeKind[]; leaderLease: boolean }[] = [
  { kinds: ["braft", "braft", "tsraft"], leaderLease: false },
  { kinds: ["braft", "braft", "tsraft"], leaderLease: true },
  { kinds: ["braft", "tsraft", "tsraft"], leaderLease: true },
];

describe("TriggerVoteMixedGroup: tsraft's vote() under a live braft leader", { skip }, () => {
  for (const { kinds, leaderLease } of CASES) {
    test(`${kinds.join(" + ")}, lease ${leaderLease ? "on" : "off"}: the tsraft follower that votes becomes leader`, async (t) => {
      const cluster = await MixedCluster.start(kinds, {
        electionTimeoutMs: ELECTION_TIMEOUT_MS,
        snapshotIntervalS: 3600,
        example: "atomic",
        leaderLease,
      });
      const braftLeader = cluster.of("braft")[0] as InteropNode;
      const voter = cluster.of("tsraft")[0] as InteropNode;
      try {
        await transferByBraftCli(cluster, braftLeader);
        // The voter's log must be as long as the leader's, or the pre-vote is rightly refused.
        await cluster.converged(await committedIndex(cluster));
        const termBefore = Number((await cluster.stat(braftLeader))?.get("term"));
        const votedAtMs = Date.now();
        await triggerVote(voter.port, ELECTION_TIMEOUT_MS);
        const leader = await waitFor(
          `${voter.peer} to lead after vote()`,
          async () => {
            const now = await cluster.leader();
            return now === voter ? now : undefined;
          },
          3 * ELECTION_TIMEOUT_MS,
        ).catch(async (error: unknown) =>
          assert.fail(`${String(error)}\n${await cluster.describe()}\n${cluster.tails()}`),
        );
        assert.ok(braftLeader.child?.running === true, "the braft leader was alive throughout");
        const termAfter = Number((await cluster.stat(voter))?.get("term"));
        assert.ok(termAfter > termBefore, `a new term: ${termBefore} -> ${termAfter}`);
        const index = await cluster.converged();
        t.diagnostic(
          `${leader.peer} leads in term ${termAfter} (was ${termBefore}) ${Date.now() - votedAtMs} ms after vote(); converged at ${index}`,
        );
      } catch (error) {
        t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}`);
        throw error;
      } finally {
        await cluster.stopAll();
      }
    });
  }
});
