/**
 * ProcessLiveness on virtual time with a scripted transport: one heartbeat per peer process and
 * period, braft peers (ENOSYS) remembered, quiet groups woken by silence or by a restart.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { LivenessAck, LivenessHeartbeat, LivenessTransport } from "../../src/node/ports.js";
import { ProcessLiveness, type QuietMember } from "../../src/node/process-liveness.js";
import { Prng } from "../../src/testing/prng.js";
import { SimEnv } from "../../src/testing/sim-env.js";
import { SimScheduler } from "../../src/testing/sim-scheduler.js";

const PEER = "10.0.0.2:8100";
const ELECTION_TIMEOUT_MS = 1000;

/** A transport whose peer answers with `answer()` (an incarnation, or an error to reject with). */
function scripted(answer: () => number | RaftError): {
  transport: LivenessTransport;
  sent: LivenessHeartbeat[];
} {
  const sent: LivenessHeartbeat[] = [];
  const transport: LivenessTransport = {
    heartbeat: (_endpoint, request): Promise<LivenessAck> => {
      sent.push(request);
      const reply = answer();
      return typeof reply === "number" ? Promise.resolve({ incarnation: reply }) : Promise.reject(reply);
    },
    quiesce: () => Promise.reject(new RaftError("ENOSYS", "not used here")),
  };
  return { transport, sent };
}

function quietMember(woken: { leaderLost: boolean }[]): QuietMember {
  return {
    key: "g\u000010.0.0.2:8100:0",
    electionTimeoutMs: ELECTION_TIMEOUT_MS,
    wake: (leaderLost) => woken.push({ leaderLost }),
  };
}

function setup(answer: () => number | RaftError) {
  const scheduler = new SimScheduler();
  const env = new SimEnv(scheduler, new Prng(7));
  const { transport, sent } = scripted(answer);
  const liveness = new ProcessLiveness(env, transport, () => "10.0.0.1:8100");
  liveness.watch(PEER, ELECTION_TIMEOUT_MS);
  return { scheduler, liveness, sent };
}

test("LivenessHeartbeat: one heartbeat per peer process every eighth of the election timeout, however many nodes watch it", async () => {
  const { scheduler, liveness, sent } = setup(() => 5);
  liveness.watch(PEER, ELECTION_TIMEOUT_MS); // a second node with a peer there
  await scheduler.runFor(1000);
  assert.equal(sent.length, 8);
  assert.ok(liveness.mayQuiesceWith(PEER));
  liveness.stop();
});

test("LivenessBraftPeer: a peer that answers ENOSYS is braft, its groups may not quiesce, and it gets no more heartbeats", async () => {
  const { scheduler, liveness, sent } = setup(() => new RaftError("ENOSYS", "Fail to find service"));
  await scheduler.runFor(1000);
  assert.equal(sent.length, 1);
  assert.equal(liveness.mayQuiesceWith(PEER), false);
  liveness.stop();
});

test("LivenessSilence: a quiet follower wakes, leader lost, within an election timeout plus three periods of its leader process going silent, not before the timeout", async () => {
  let alive = true;
  const { scheduler, liveness } = setup(() => (alive ? 5 : new RaftError("EHOSTUNREACH", "down")));
  await scheduler.runFor(500);
  const woken: { leaderLost: boolean }[] = [];
  liveness.addQuiet(quietMember(woken), [PEER], true);
  await scheduler.runFor(2000);
  assert.deepEqual(woken, [], "no wake while the process answers");
  alive = false;
  const silentFrom = scheduler.nowMs;
  await scheduler.runUntil(() => woken.length > 0, 5000);
  assert.deepEqual(woken, [{ leaderLost: true }]);
  const afterMs = scheduler.nowMs - silentFrom;
  assert.ok(
    afterMs >= ELECTION_TIMEOUT_MS && afterMs <= ELECTION_TIMEOUT_MS + 375,
    `woke ${afterMs} ms after the last answer`,
  );
  liveness.stop();
});

test("LivenessSilenceOnTime: a quiet follower wakes within 1 ms of its leader's process being silent for an election timeout plus one period, not at the next heartbeat after that", async () => {
  let alive = true;
  const { scheduler, liveness } = setup(() => (alive ? 5 : new RaftError("EHOSTUNREACH", "down")));
  await scheduler.runFor(500);
  const woken: { leaderLost: boolean }[] = [];
  liveness.addQuiet(quietMember(woken), [PEER], true);
  alive = false;
  // The peer's own heartbeat arrives between two of ours: its last sign of life.
  await scheduler.runFor(60);
  liveness.onHeartbeat({ from: PEER, incarnation: 5, goneLeaders: [], wakeLeaders: [] });
  const lastHeardMs = liveness.lastHeardMs(PEER);
  assert.equal(lastHeardMs, scheduler.nowMs);
  await scheduler.runUntil(() => woken.length > 0, 5000);
  const wakeMs = lastHeardMs + ELECTION_TIMEOUT_MS + ELECTION_TIMEOUT_MS / 8;
  assert.ok(
    scheduler.nowMs >= wakeMs && scheduler.nowMs <= wakeMs + 1,
    `woke at ${scheduler.nowMs} ms, silence ran out at ${wakeMs} ms`,
  );
  liveness.stop();
});

test("LivenessRestart: a new incarnation wakes every quiet group that depends on the process at once", async () => {
  let incarnation = 5;
  const { scheduler, liveness } = setup(() => incarnation);
  await scheduler.runFor(500);
  const woken: { leaderLost: boolean }[] = [];
  liveness.addQuiet(quietMember(woken), [PEER], true);
  incarnation = 6;
  await scheduler.runFor(200);
  assert.deepEqual(woken, [{ leaderLost: true }]);
  liveness.stop();
});

test("LivenessWakeLeader: a follower's request to wake its leader goes with the next heartbeat, again after a failed one, and wakes only a quiet leader there", async () => {
  let alive = true;
  const { scheduler, liveness, sent } = setup(() => (alive ? 5 : new RaftError("EHOSTUNREACH", "down")));
  await scheduler.runFor(130); // one periodic heartbeat went and was answered
  const key = "g\u000010.0.0.2:8100:0";
  const before = sent.length;
  alive = false;
  liveness.askLeaderToWake(PEER, key);
  assert.equal(sent.length, before, "no call of its own");
  await scheduler.runFor(125);
  assert.equal(sent.length, before + 1, "the next periodic heartbeat carries it");
  assert.deepEqual(sent.at(-1)?.wakeLeaders, [key]);
  alive = true;
  await scheduler.runFor(125);
  assert.deepEqual(sent.at(-1)?.wakeLeaders, [key], "the failed request is repeated with the next heartbeat");
  await scheduler.runFor(125);
  assert.deepEqual(sent.at(-1)?.wakeLeaders, [], "and then not again");

  const woken: { leaderLost: boolean }[] = [];
  const followerWoken: { leaderLost: boolean }[] = [];
  liveness.addQuiet(quietMember(woken), [PEER], false); // a quiet leader here, its follower there
  liveness.addQuiet({ ...quietMember(followerWoken), key: "h\u000010.0.0.2:8100:0" }, [PEER], true);
  const request = {
    from: PEER,
    incarnation: 5,
    goneLeaders: [],
    wakeLeaders: [key, "h\u000010.0.0.2:8100:0"],
  };
  liveness.onHeartbeat(request);
  assert.deepEqual(woken, [{ leaderLost: false }], "the quiet leader wakes");
  assert.deepEqual(followerWoken, [], "a quiet follower named so is not a leader here: untouched");
  liveness.stop();
});

test("LivenessDeadPeer: a process silent for an election timeout (or never heard since watched) is dead; a quiet leader waiting for it wakes, not lost, when it is heard again, and not before", async () => {
  let alive = false;
  const { scheduler, liveness } = setup(() => (alive ? 5 : new RaftError("EHOSTUNREACH", "down")));
  assert.equal(liveness.isDead(PEER), false, "never heard, but watched for less than a timeout");
  await scheduler.runFor(ELECTION_TIMEOUT_MS);
  assert.equal(liveness.isDead(PEER), true, "never heard for an election timeout");
  assert.equal(liveness.isDead("10.0.0.1:8100"), false, "this process is never dead to itself");
  const woken: { leaderLost: boolean }[] = [];
  liveness.addQuietUntilHeard(quietMember(woken), [PEER]);
  await scheduler.runFor(3 * ELECTION_TIMEOUT_MS);
  assert.deepEqual(woken, [], "silence does not wake a leader that left the process out");
  alive = true;
  await scheduler.runFor(ELECTION_TIMEOUT_MS / 8);
  assert.deepEqual(woken, [{ leaderLost: false }], "the first answer wakes it");
  assert.equal(liveness.isDead(PEER), false);
  await scheduler.runFor(ELECTION_TIMEOUT_MS);
  assert.deepEqual(woken, [{ leaderLost: false }], "once");
  liveness.stop();
});
