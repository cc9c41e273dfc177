/**
 * TimeoutNow's term, against braft's handle_timeout_now_request: a request from a newer term
 * makes the receiver step down to that term (EHIGHERTERMREQUEST) and refuse, without campaigning;
 * an older term is refused with the receiver's term; the current term from its leader campaigns.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { TimeoutNowRequest } from "../../src/core/messages.js";
import { CoreCluster } from "./core-cluster.js";

function timeoutNow(from: string, to: string, term: number): TimeoutNowRequest {
  return { groupId: "g", serverId: from, peerId: to, term, oldLeaderSteppedDown: false };
}

test("TimeoutNowNewerTerm: a follower adopts the newer term, refuses, and does not campaign (braft)", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  const b = cluster.core("b");
  assert.equal(b.term, 1);
  b.stepRequest({ kind: "timeoutNow", request: timeoutNow("c", "b", 3) }, 11, cluster.nowMs);
  const ready = b.takeReady();
  assert.deepEqual(ready.hardState, { term: 3, votedFor: "" }, "the newer term is persisted");
  const reply = ready.replies[0];
  assert.equal(reply?.kind, "timeoutNow");
  assert.deepEqual(reply?.kind === "timeoutNow" ? reply.response : undefined, { term: 3, success: false });
  assert.equal(b.role, "follower", "it steps down to follower, it does not campaign");
  assert.equal(b.leaderId, "", "the leader of the new term is not known yet");
  assert.equal(ready.sendsNow.length + ready.sendsAfterPersist.length, 0, "no vote request goes out");
});

test("TimeoutNowNewerTerm: a leader that receives one steps down to the newer term", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  const a = cluster.core("a");
  a.stepRequest({ kind: "timeoutNow", request: timeoutNow("c", "a", 2) }, 12, cluster.nowMs);
  const ready = a.takeReady();
  const reply = ready.replies[0];
  assert.deepEqual(reply?.kind === "timeoutNow" ? reply.response : undefined, { term: 2, success: false });
  assert.equal(a.role, "follower");
  assert.equal(a.term, 2);
});

test("TimeoutNowOlderTerm: refused with the receiver's term, which stays", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.core("b").campaign(cluster.nowMs); // b leads term 2 (a's lease is off in this bench)
  cluster.settle();
  const c = cluster.core("c");
  const term = c.term;
  c.stepRequest({ kind: "timeoutNow", request: timeoutNow("a", "c", term - 1) }, 13, cluster.nowMs);
  const reply = c.takeReady().replies[0];
  assert.deepEqual(reply?.kind === "timeoutNow" ? reply.response : undefined, { term, success: false });
  assert.equal(c.term, term);
  assert.equal(c.role, "follower");
});

test("TimeoutNowCurrentTerm: the follower of the sender campaigns at once", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  const b = cluster.core("b");
  b.stepRequest({ kind: "timeoutNow", request: timeoutNow("a", "b", 1) }, 14, cluster.nowMs);
  const reply = b.takeReady().replies[0];
  assert.equal(reply?.kind === "timeoutNow" && reply.response.success, true);
  assert.equal(b.role, "candidate");
  assert.equal(b.term, 2);
});
