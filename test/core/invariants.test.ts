/**
 * The core's invariant checks (src/core/invariants.ts): each invariant is broken on purpose and
 * the check must name it. Healthy runs are covered by every other core and simulator test, which
 * run with the checks on.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigurationManager } from "../../src/core/configuration.js";
import { leaderOf } from "../../src/core/core-state.js";
import { InvariantError } from "../../src/core/errors.js";
import type { Ready, Send } from "../../src/core/events.js";
import { assertAppendWellFormed, checkInvariants, checkReady } from "../../src/core/invariants.js";
import type { AppendEntriesRequest } from "../../src/core/messages.js";
import { Progress } from "../../src/core/progress.js";
import { RaftCore, coreStateForTests as st } from "../../src/core/raft.js";
import type { LogReader } from "../../src/core/raft-log.js";
import { EMPTY_DATA, EntryType, type LogEntry } from "../../src/core/types.js";
import { CoreCluster } from "./core-cluster.js";

const data = (text: string): Uint8Array => new TextEncoder().encode(text);
const entry = (index: number, term: number): LogEntry => ({
  index,
  term,
  type: EntryType.DATA,
  data: EMPTY_DATA,
});

/** Asserts that `check` throws an InvariantError whose message matches `pattern`. */
function caught(check: () => void, pattern: RegExp): void {
  assert.throws(check, (error: unknown) => error instanceof InvariantError && pattern.test(error.message));
}

/** A three-node cluster where "a" leads term 1 and has committed one write (index 2). */
function ledCluster(): CoreCluster {
  const cluster = new CoreCluster(["a", "b", "c"]);
  cluster.campaign("a");
  cluster.core("a").propose([{ type: EntryType.DATA, data: data("x") }], cluster.nowMs);
  cluster.settle();
  assert.equal(cluster.core("a").commitIndex, 2);
  return cluster;
}

test("Invariants hold through an election, writes and heartbeats", () => {
  const cluster = ledCluster();
  cluster.advance(500);
  for (const { core } of cluster.members.values()) checkInvariants(st(core));
});

test("Invariants: commit beyond the last index, applied beyond commit, persisted beyond last", () => {
  const b = ledCluster().core("b");
  st(b).commitIndex = 9;
  caught(() => checkInvariants(st(b)), /committed 9 beyond last index 2/);
  st(b).commitIndex = 2;
  st(b).appliedIndex = 3;
  caught(() => checkInvariants(st(b)), /applied 3 beyond committed 2/);
  st(b).appliedIndex = 2;
  st(b).persistedIndex = 5;
  caught(() => checkInvariants(st(b)), /persisted 5 beyond last index 2/);
});

test("Invariants: the term never goes back, and neither do commit and applied", () => {
  const cluster = new CoreCluster(["a", "b", "c"]);
  const c = cluster.core("c");
  st(c).term = 3;
  checkInvariants(st(c));
  st(c).term = 2;
  caught(() => checkInvariants(st(c)), /term went back from 3 to 2/);

  const a = ledCluster().core("a");
  a.onApplied(2);
  st(a).commitIndex = 1;
  st(a).appliedIndex = 1;
  caught(() => checkInvariants(st(a)), /commit went back from 2 to 1/);
  st(a).commitIndex = 2;
  caught(() => checkInvariants(st(a)), /applied went back from 2 to 1/);
});

test("Invariants: no entry newer than the current term", () => {
  const b = ledCluster().core("b");
  st(b).term = 0;
  caught(() => checkInvariants(st(b)), /last entry's term 1 is newer than the term 0/);
});

test("Invariants: one vote per term", () => {
  const b = ledCluster().core("b");
  assert.equal(b.votedFor, "a");
  st(b).votedFor = "c";
  caught(() => checkInvariants(st(b)), /vote in term 1 changed: "a" became "c"/);
});

test("Invariants: a committed entry never changes", () => {
  const cluster = ledCluster();
  const a = cluster.member("a");
  a.log.entries[1] = entry(2, 0);
  caught(() => checkInvariants(st(a.core)), /committed entry 2 changed term from 1 to 0/);
});

test("Invariants: a leader never truncates its own log", () => {
  const cluster = ledCluster();
  cluster.isolate("a");
  const a = cluster.member("a");
  a.core.propose([{ type: EntryType.DATA, data: data("y") }], cluster.nowMs);
  cluster.settle();
  assert.equal(a.core.log.lastIndex(), 3);
  a.log.entries.length = 2;
  st(a.core).persistedIndex = 2;
  caught(() => checkInvariants(st(a.core)), /leader of term 1 truncated its log from 3 to 2/);
});

test("Invariants: leaderId is self exactly when leading; leaders and candidates voted for themselves", () => {
  const cluster = ledCluster();
  const a = cluster.core("a");
  const b = cluster.core("b");
  st(b).leaderId = "b";
  caught(() => checkInvariants(st(b)), /role follower with leader "b" \(self b\)/);
  st(a).leaderId = "";
  caught(() => checkInvariants(st(a)), /role leader with leader ""/);
  st(a).leaderId = "a";
  st(a).votedFor = "b";
  caught(() => checkInvariants(st(a)), /leader of term 1 voted for "b"/);
});

test("Only a leader has leader state: a follower's role state carries no progress, change or transfer", () => {
  const cluster = ledCluster();
  assert.deepEqual(st(cluster.core("b")).roleState, { role: "follower" });
  assert.equal(leaderOf(st(cluster.core("b"))), undefined);
  assert.equal(leaderOf(st(cluster.core("a")))?.progress.size, 2);
});

test("Invariants: match < next <= last + 1 for every follower, and progress only for members", () => {
  const a = ledCluster().core("a");
  const progress = leaderOf(st(a))?.progress.get("b") as Progress;
  progress.nextIndex = progress.matchIndex;
  caught(() => checkInvariants(st(a)), /progress of b: match 2, next 2, last 2/);
  progress.nextIndex = 4;
  caught(() => checkInvariants(st(a)), /progress of b: match 2, next 4, last 2/);
  progress.nextIndex = 3;
  progress.inflight = -1;
  caught(() => checkInvariants(st(a)), /progress of b: -1 appends in flight/);
  progress.inflight = 0;
  leaderOf(st(a))?.progress.set("z", new Progress(3, 0));
  caught(() => checkInvariants(st(a)), /progress for z, which is not a member/);
});

test("Invariants: a Ready's hard state matches the core and its entries continue the log", () => {
  const a = ledCluster().core("a");
  const ready = (fields: Partial<Ready>): Ready => ({
    hardState: undefined,
    entries: [],
    sendsNow: [],
    sendsAfterPersist: [],
    replies: [],
    applyThroughIndex: 0,
    events: [],
    ...fields,
  });
  caught(() => checkReady(st(a), ready({ hardState: { term: 1, votedFor: "b" } })), /hard state to persist/);
  caught(() => checkReady(st(a), ready({ entries: [entry(2, 1), entry(4, 1)] })), /entry 4 follows 2/);
  caught(() => checkReady(st(a), ready({ entries: [entry(2, 2)] })), /entry 2 has term 2 .*term limit 1/);
  caught(() => checkReady(st(a), ready({ entries: [entry(2, 0)] })), /entry 2 has term 0 after term 1/);
});

test("Invariants: an append this core sends is well formed and claims no commit it lacks", () => {
  const a = ledCluster().core("a");
  const append = (request: Partial<AppendEntriesRequest>): Send => ({
    seq: 1,
    heartbeat: false,
    createdAtMs: 0,
    message: {
      kind: "append",
      to: "b",
      request: {
        groupId: "g",
        serverId: "a",
        peerId: "b",
        term: 1,
        prevLogIndex: 1,
        prevLogTerm: 1,
        entries: [entry(2, 1)],
        committedIndex: 2,
        ...request,
      },
    },
  });
  const sendsNow = (send: Send): Ready => ({
    hardState: undefined,
    entries: [],
    sendsNow: [send],
    sendsAfterPersist: [],
    applyThroughIndex: 0,
    replies: [],
    events: [],
  });
  checkReady(st(a), sendsNow(append({})));
  caught(() => checkReady(st(a), sendsNow(append({ term: 2 }))), /append to b carries term 2 beyond 1/);
  caught(() => checkReady(st(a), sendsNow(append({ committedIndex: 3 }))), /claims commit 3 beyond 2/);
  caught(() => checkReady(st(a), sendsNow(append({ prevLogIndex: 0 }))), /append to b: entry 2 follows 0/);
});

test("Invariants: an append whose entries do not follow prevLogIndex is refused before it touches the log", () => {
  const cluster = ledCluster();
  const b = cluster.core("b");
  const request: AppendEntriesRequest = {
    groupId: "g",
    serverId: "a",
    peerId: "b",
    term: 1,
    prevLogIndex: 2,
    prevLogTerm: 1,
    entries: [entry(4, 1)],
    committedIndex: 2,
  };
  caught(
    () => b.stepRequest({ kind: "append", request }, 99, cluster.nowMs),
    /append from a: entry 4 follows 2/,
  );
  assert.equal(b.log.lastIndex(), 2, "the log is unchanged");
  caught(
    () => assertAppendWellFormed({ ...request, entries: [entry(3, 1), entry(4, 0)] }),
    /entry 4 has term 0 after term 1/,
  );
  caught(() => assertAppendWellFormed({ ...request, entries: [entry(3, 2)] }), /term limit 1/);
});

/** A durable log that, like LogManager, can be reset to start after a snapshot. */
class ResettableLog implements LogReader {
  constructor(
    private first: number,
    private entries: LogEntry[],
  ) {}
  firstIndex(): number {
    return this.first;
  }
  lastIndex(): number {
    return this.first + this.entries.length - 1;
  }
  term(index: number): number | undefined {
    return index === 0 ? 0 : this.entries[index - this.first]?.term;
  }
  entry(index: number): LogEntry | undefined {
    return this.entries[index - this.first];
  }
  resetAfter(index: number): void {
    this.first = index + 1;
    this.entries = [];
  }
}

test("InstallSnapshotResetLog: a follower whose log was reset by a snapshot no longer counts the lost entries as persisted", () => {
  // The follower holds 1..3 of term 1, durably; the leader of term 2 sends a snapshot through
  // index 2 of term 2, which disagrees with entry 2, so the shell resets the durable log after it.
  const log = new ResettableLog(1, [entry(1, 1), entry(2, 1), entry(3, 1)]);
  const confs = new ConfigurationManager({ id: { index: 0, term: 0 }, conf: { peers: ["a", "b", "c"] } });
  const config = {
    groupId: "g",
    self: "b",
    electionTimeoutMs: 1000,
    maxElectionDelayMs: 1000,
    heartbeatIntervalMs: 100,
    maxClockDriftMs: 1000,
    leaderLeaseEnabled: false,
    stepDownWhenVoteTimedOut: true,
    inflightAppendsMax: 4,
    appendEntriesMax: 1024,
    appendBytesMax: 1 << 20,
    catchupMargin: 1000,
    catchupTimeoutMs: 0,
    random: () => 0.5,
  };
  const b = new RaftCore(config, { term: 1, votedFor: "" }, log, confs, 0);
  assert.equal(b.persistedIndex, 3);
  const meta = { lastIncludedIndex: 2, lastIncludedTerm: 2, conf: { peers: ["a", "b", "c"] } };
  const request = { groupId: "g", serverId: "a", peerId: "b", term: 2, meta, uri: "remote://a/1" };
  b.stepRequest({ kind: "installSnapshot", request }, 7, 10);
  assert.ok(b.takeReady().events.some((event) => event.type === "installSnapshot"));
  log.resetAfter(2);
  b.finishInstall(7, meta, true);
  assert.equal(b.log.lastIndex(), 2);
  assert.equal(b.persistedIndex, 2, "entry 3 was thrown away with the old log");
  assert.equal(b.commitIndex, 2);
});
