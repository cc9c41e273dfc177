import assert from "node:assert/strict";
import { test } from "node:test";
import { EntryType } from "../../src/core/types.js";
import { RaftError } from "../../src/core/errors.js";
import { CoreCluster } from "./core-cluster.js";

const data = (text: string): Uint8Array => new TextEncoder().encode(text);
const propose = (cluster: CoreCluster, peer: string, text: string) =>
  cluster.core(peer).propose([{ type: EntryType.DATA, data: data(text) }], cluster.nowMs);

test("Election: pre-vote then vote elects one leader who appends a configuration entry", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  assert.deepEqual(cluster.leaders(), ["a"]);
  const a = cluster.core("a");
  assert.equal(a.term, 1);
  const first = a.log.entry(1);
  assert.equal(first?.type, EntryType.CONFIGURATION);
  assert.deepEqual(first?.conf?.peers, ["a", "b", "c"]);
  assert.equal(a.commitIndex, 1);
  assert.equal(cluster.core("b").leaderId, "a");
});

test("PreVote: a partitioned node does not inflate terms", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.isolate("c");
  cluster.advance(5000);
  assert.equal(cluster.core("c").term, 1, "pre-votes never reached a quorum, so the term stayed");
  cluster.heal();
  cluster.advance(500);
  assert.deepEqual(cluster.leaders(), ["a"], "the healed node did not depose the leader");
});

test("Votes are persisted before the reply that depends on them", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  const b = cluster.core("b");
  b.stepRequest(
    {
      kind: "vote",
      request: {
        groupId: "g",
        serverId: "a",
        peerId: "b",
        term: 1,
        lastLogIndex: 0,
        lastLogTerm: 0,
        preVote: false,
      },
    },
    7,
    5000,
  );
  const ready = b.takeReady();
  assert.deepEqual(ready.hardState, { term: 1, votedFor: "a" });
  assert.equal(ready.sendsNow.length, 0);
  assert.equal(ready.replies.length, 1, "the grant waits in replies, which the shell sends after persisting");
  assert.equal(ready.replies[0]?.kind, "vote");
});

test("A voter that hears from its leader refuses to vote (lease), unless the candidate names that leader as disrupted", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  const b = cluster.core("b");
  const request = {
    groupId: "g",
    serverId: "c",
    peerId: "b",
    term: 5,
    lastLogIndex: 9,
    lastLogTerm: 9,
    preVote: false,
  };
  b.stepRequest({ kind: "vote", request }, 1, cluster.nowMs);
  const refused = b.takeReady().replies[0];
  assert.equal(refused?.kind === "vote" && refused.response.granted, false);
  assert.equal(refused?.kind === "vote" && refused.response.rejectedByLease, true);
  assert.equal(b.term, 1);
  const notItsLeader = { ...request, disruptedLeader: { peerId: "c", term: 1 } };
  b.stepRequest({ kind: "vote", request: notItsLeader }, 2, cluster.nowMs);
  const stillRefused = b.takeReady().replies[0];
  assert.equal(stillRefused?.kind === "vote" && stillRefused.response.granted, false);
  const itsLeader = { ...request, disruptedLeader: { peerId: "a", term: 1 } };
  b.stepRequest({ kind: "vote", request: itsLeader }, 3, cluster.nowMs);
  const granted = b.takeReady().replies[0];
  assert.equal(granted?.kind === "vote" && granted.response.granted, true);
  assert.equal(b.term, 5);
});

test("Replication: followers commit min(leader commit, last matched index)", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  for (let i = 0; i < 5; i++) propose(cluster, "a", `x${i}`);
  cluster.settle();
  assert.equal(cluster.core("a").commitIndex, 6);
  cluster.advance(100);
  for (const peer of ["b", "c"]) {
    assert.equal(cluster.core(peer).commitIndex, 6, `${peer} learned the commit index`);
    assert.equal(cluster.member(peer).log.lastIndex(), 6);
  }
});

test("Commit counts only current-term entries (Raft figure 8)", () => {
  const cluster = new CoreCluster(["a", "b", "c", "d", "e"]);
  cluster.campaign("a");
  cluster.advance(100);
  // a appends an entry in term 1 that reaches only b, then is cut off.
  for (const peer of ["c", "d", "e"]) {
    cluster.cut.add(`a>${peer}`);
    cluster.cut.add(`${peer}>a`);
  }
  propose(cluster, "a", "old-term");
  cluster.settle();
  assert.equal(cluster.member("b").log.lastIndex(), 2);
  assert.equal(cluster.core("a").commitIndex, 1);
  // Old term entries are committed only by a current-term entry: a new leader's conf entry.
  cluster.heal();
  cluster.isolate("a");
  cluster.nowMs += 2000; // the followers' leases on a run out
  cluster.campaign("b");
  assert.deepEqual(
    cluster.leaders().filter((p) => p !== "a"),
    ["b"],
  );
  const b = cluster.core("b");
  assert.equal(b.log.entry(2)?.term, 1);
  assert.equal(b.log.entry(3)?.term, b.term);
  assert.equal(b.commitIndex, 3, "entry 2 commits together with the current-term entry 3");
});

test("A leader does not commit a previous-term entry by counting replicas", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.isolate("c");
  propose(cluster, "a", "t1");
  cluster.settle();
  const a = cluster.core("a");
  // Forge: a quorum holds index 2 of term 1, but a is now in term 2 with its conf entry unreplicated.
  assert.equal(a.commitIndex, 2);
  cluster.heal();
  cluster.isolate("a");
  cluster.advance(3000);
  const leader = cluster.leaders().find((p) => p !== "a");
  assert.ok(leader !== undefined, "b or c leads");
  const core = cluster.core(leader);
  assert.ok(core.commitIndex >= 2);
  assert.equal(core.log.entry(core.commitIndex)?.term, core.term, "the commit point is a current-term entry");
});

test("Probing: a shorter follower is jumped to its end, a divergent one stepped back", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.isolate("c");
  for (let i = 0; i < 10; i++) propose(cluster, "a", `y${i}`);
  cluster.settle();
  assert.equal(cluster.member("c").log.lastIndex(), 1);
  cluster.heal();
  cluster.advance(200);
  assert.equal(cluster.member("c").log.lastIndex(), 11, "c caught up");
  assert.equal(cluster.core("a").progress.get("c")?.matchIndex, 11);
});

test("Divergent follower suffix is truncated and replaced", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.advance(100);
  cluster.isolate("a");
  for (let i = 0; i < 3; i++) propose(cluster, "a", `lost${i}`);
  cluster.settle();
  assert.equal(cluster.member("a").log.lastIndex(), 4);
  cluster.nowMs += 2000; // the followers' leases on a run out
  cluster.campaign("b");
  for (let i = 0; i < 2; i++) propose(cluster, "b", `kept${i}`);
  cluster.settle();
  cluster.heal();
  cluster.advance(2000);
  const a = cluster.member("a");
  const b = cluster.member("b");
  assert.equal(cluster.core("a").role, "follower");
  assert.equal(a.log.lastIndex(), b.log.lastIndex());
  for (let i = 1; i <= b.log.lastIndex(); i++) assert.equal(a.log.term(i), b.log.term(i));
  assert.ok(!a.log.entries.some((e) => new TextDecoder().decode(e.data).startsWith("lost")));
});

test("CheckQuorum: a leader that hears from no quorum steps down after an election timeout", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.isolate("a");
  cluster.advance(2100);
  assert.equal(cluster.core("a").role === "leader", false);
});

test("expectedTerm and not-leader proposals are refused with RaftErrors", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  const [stale] = cluster.core("a").propose([{ type: EntryType.DATA, data: data("x"), expectedTerm: 7 }], 0);
  assert.ok(RaftError.is(stale) && stale.code === "EPERM");
  const [notLeader] = propose(cluster, "b", "x");
  assert.ok(RaftError.is(notLeader) && notLeader.code === "EPERM" && notLeader.leaderId === "a");
});

test("The lease is valid only while a quorum acknowledged within an election timeout", () => {
  const cluster = new CoreCluster(["a", "b", "c"], { leaderLeaseEnabled: true });
  cluster.nowMs = 2001; // past the follower lease every node starts with (timeout + drift)
  cluster.campaign("a");
  cluster.advance(200);
  const a = cluster.core("a");
  assert.ok(a.leaseExpiresAtMs(cluster.nowMs) < cluster.nowMs, "not ready before the first entry is applied");
  a.onApplied(a.commitIndex);
  assert.ok(a.leaseExpiresAtMs(cluster.nowMs) > cluster.nowMs);
  cluster.isolate("a");
  cluster.advance(1050);
  assert.ok(a.leaseExpiresAtMs(cluster.nowMs) <= cluster.nowMs);
});

test("Pipelining keeps at most inflightAppendsMax appends in flight per follower", () => {
  const cluster = new CoreCluster(["a", "b", "c"], { inflightAppendsMax: 2 });
  cluster.campaign("a");
  cluster.advance(100);
  const a = cluster.core("a");
  for (let i = 0; i < 10; i++) a.propose([{ type: EntryType.DATA, data: data(`p${i}`) }], cluster.nowMs);
  const appends = a.takeReady().sendsNow.filter((s) => s.message.kind === "append" && s.message.to === "b");
  assert.equal(appends.length, 2);
  assert.equal(a.progress.get("b")?.inflight, 2);
});

test("Figure 8: a prior-term entry on a quorum is not committed until a current-term entry is", () => {
  const peers = ["s1", "s2", "s3", "s4", "s5"];
  const cluster = new CoreCluster(peers, { appendEntriesMax: 1 });
  cluster.campaign("s1");
  cluster.advance(100);
  // Term 1: s1 writes index 2, which reaches only s2.
  for (const peer of ["s3", "s4", "s5"]) cluster.cut.add(`s1>${peer}`);
  propose(cluster, "s1", "from-term-1");
  cluster.settle();
  assert.equal(cluster.member("s2").log.lastIndex(), 2);
  // Term 2: s5 is elected by s3 and s4, writes its own index 2, and reaches nobody.
  cluster.heal();
  cluster.isolate("s1");
  cluster.nowMs += 2000;
  cluster.drop = (from, send) => from === "s5" && send.message.kind === "append";
  cluster.campaign("s5");
  assert.equal(cluster.core("s5").role, "leader");
  assert.equal(cluster.member("s5").log.term(2), cluster.core("s5").term);
  // Term 3: s1 returns and wins; its appends carrying its own new entry are lost.
  cluster.heal();
  cluster.isolate("s5");
  cluster.nowMs += 2000;
  cluster.drop = (from, send) =>
    from === "s1" && send.message.kind === "append" && send.message.request.entries.some((e) => e.index >= 3);
  cluster.core("s1").tick(cluster.nowMs); // s1 sees it lost its quorum and steps down first
  cluster.campaign("s1"); // term 2 is taken: s3 and s4 voted for s5
  cluster.campaign("s1");
  const s1 = cluster.core("s1");
  assert.equal(s1.role, "leader");
  assert.equal(s1.term, 3);
  cluster.advance(300);
  assert.ok(
    ["s2", "s3"].every((peer) => (s1.progress.get(peer)?.matchIndex ?? 0) >= 2),
    "index 2 is on a quorum",
  );
  assert.equal(s1.commitIndex, 1, "index 2 (term 1) must not commit by counting replicas");
  // Once the current-term entry reaches a quorum, both commit.
  cluster.drop = () => false;
  cluster.advance(300);
  assert.ok(s1.commitIndex >= 3);
});
