/** The core's side of braft's lease-aware elections (election.ts), message by message. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RequestVoteRequest } from "../../src/core/messages.js";
import { votesOf } from "../../src/core/core-state.js";
import { coreStateForTests as st } from "../../src/core/raft.js";
import { CoreCluster } from "./core-cluster.js";

/** A cluster of three lease-enabled cores where `a` leads and everyone heard from it just now. */
function leaseCluster(): CoreCluster {
  const cluster = new CoreCluster(["a", "b", "c"], { leaderLeaseEnabled: true });
  cluster.nowMs = 2001; // past the follower lease every node starts with
  cluster.campaign("a");
  cluster.advance(200);
  return cluster;
}

function voteFrom(candidate: string, to: string, term: number, preVote: boolean): RequestVoteRequest {
  return { groupId: "g", serverId: candidate, peerId: to, term, lastLogIndex: 99, lastLogTerm: 99, preVote };
}

function voteReply(cluster: CoreCluster, peer: string, request: RequestVoteRequest): Record<string, unknown> {
  const core = cluster.core(peer);
  core.stepRequest({ kind: "vote", request }, 77, cluster.nowMs);
  const reply = core.takeReady().replies.find((r) => r.replyId === 77);
  assert.ok(reply?.kind === "vote");
  return { ...reply.response };
}

test("A leader refuses pre-votes by lease and says it would be disrupted", () => {
  const cluster = leaseCluster();
  const reply = voteReply(cluster, "a", voteFrom("b", "a", 2, true));
  assert.equal(reply.granted, false);
  assert.equal(reply.rejectedByLease, true);
  assert.equal(reply.disrupted, true);
  assert.equal(cluster.core("a").role, "leader", "a pre-vote changes nothing");
});

test("A leader steps down for a RequestVote of a newer term and answers disrupted", () => {
  const cluster = leaseCluster();
  const reply = voteReply(cluster, "a", voteFrom("b", "a", 2, false));
  assert.deepEqual(reply, {
    term: 2,
    granted: true,
    rejectedByLease: false,
    disrupted: true,
    previousTerm: 1,
  });
  assert.equal(cluster.core("a").role, "follower");
  assert.equal(cluster.core("a").leaseExpiresAtMs(cluster.nowMs), Number.NEGATIVE_INFINITY);
});

test("A follower refuses by lease without adopting the term, until its leader is named disrupted", () => {
  const cluster = leaseCluster();
  const refused = voteReply(cluster, "c", voteFrom("b", "c", 2, false));
  assert.equal(refused.rejectedByLease, true);
  assert.equal(cluster.core("c").term, 1);
  const wrongTerm = voteReply(cluster, "c", {
    ...voteFrom("b", "c", 2, false),
    disruptedLeader: { peerId: "a", term: 0 },
  });
  assert.equal(wrongTerm.granted, false, "a leader of another term does not count");
  const named = voteReply(cluster, "c", {
    ...voteFrom("b", "c", 2, false),
    disruptedLeader: { peerId: "a", term: 1 },
  });
  assert.equal(named.granted, true);
});

test("A candidate's own vote waits for its own follower lease (grant_self)", () => {
  const cluster = leaseCluster();
  const b = cluster.core("b");
  b.campaign(cluster.nowMs);
  assert.equal(b.role, "preCandidate");
  assert.equal(votesOf(st(b))?.selfGranted, false);
  assert.ok(b.nextDeadlineMs() <= st(b).followerLeaseEndsAtMs(), "the timer wakes it by the lease's end");
  b.tick(st(b).followerLeaseEndsAtMs());
  assert.equal(b.role, "preCandidate");
  assert.equal(votesOf(st(b))?.selfGranted, true, "its own vote counts once its lease ended");
});

test("A restarted node waits a whole lease before voting", () => {
  const cluster = new CoreCluster(["a", "b", "c"], { leaderLeaseEnabled: true });
  const reply = voteReply(cluster, "b", voteFrom("a", "b", 1, true));
  assert.equal(reply.granted, false);
  assert.equal(reply.rejectedByLease, true);
});
