/**
 * The Quiesce calls of one turn to one server travel as one quiesce_batch (src/rpc/quiesce-batcher.ts),
 * and each request still gets the outcome its own call would have had.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { QuiesceRequest, QuiesceResponse } from "../../src/core/messages.js";
import {
  decodeQuiesceBatchRequest,
  decodeQuiesceRequest,
  encodeQuiesceBatchResponse,
  encodeQuiesceResponse,
  type QuiesceOutcome,
} from "../../src/rpc/liveness-codec.js";
import { QuiesceBatcher, type LivenessCall } from "../../src/rpc/quiesce-batcher.js";
import { FakeRaftService, peerOn, startServer, stopAll } from "./helpers.js";

after(stopAll);

function quiesceOf(groupId: string, peerId = "127.0.0.1:8101:0", term = 3): QuiesceRequest {
  return {
    groupId,
    serverId: "127.0.0.1:8100:0",
    peerId,
    term,
    lastLogIndex: 10,
    lastLogTerm: term,
    committedIndex: 10,
  };
}

/** A server on the other end: answers each request with `answer`, and records every call made. */
function fakeServer(answer: (request: QuiesceRequest) => QuiesceOutcome, batchKnown = true) {
  const calls: { endpoint: string; method: string; groups: string[] }[] = [];
  const call: LivenessCall = (endpoint, method, message) => {
    if (method === "quiesce") {
      const request = decodeQuiesceRequest(message);
      calls.push({ endpoint, method, groups: [request.groupId] });
      const outcome = answer(request);
      return RaftError.is(outcome)
        ? Promise.reject(outcome)
        : Promise.resolve(encodeQuiesceResponse(outcome));
    }
    const requests = decodeQuiesceBatchRequest(message);
    calls.push({ endpoint, method, groups: requests.map((r) => r.groupId) });
    if (!batchKnown) return Promise.reject(new RaftError("ENOSYS", "Fail to find method=quiesce_batch"));
    return Promise.resolve(encodeQuiesceBatchResponse(requests.map(answer)));
  };
  return { calls, call };
}

const agree = (request: QuiesceRequest): QuiesceResponse => ({ term: request.term, success: true });

test("QuiesceBatchOneCallPerServer: three Quiesces to one server in one turn go in one quiesce_batch, each answered; a lone one to another server goes alone", async () => {
  const server = fakeServer((request) => ({ term: request.term, success: request.groupId !== "g2" }));
  const batcher = new QuiesceBatcher(server.call);
  const answers = await Promise.all([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g1"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g2"), 1000),
    batcher.quiesce("127.0.0.1:8102", quiesceOf("g9", "127.0.0.1:8102:0"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g3"), 1000),
  ]);
  assert.deepEqual(
    answers.map((a) => a.success),
    [true, false, true, true],
  );
  assert.deepEqual(server.calls, [
    { endpoint: "127.0.0.1:8101", method: "quiesce_batch", groups: ["g1", "g2", "g3"] },
    { endpoint: "127.0.0.1:8102", method: "quiesce", groups: ["g9"] },
  ]);
});

test("QuiesceBatchNextTurn: a Quiesce made after the batch left goes in a call of its own", async () => {
  const server = fakeServer(agree);
  const batcher = new QuiesceBatcher(server.call);
  await Promise.all([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g1"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g2"), 1000),
  ]);
  await batcher.quiesce("127.0.0.1:8101", quiesceOf("g3"), 1000);
  assert.deepEqual(
    server.calls.map((c) => c.method),
    ["quiesce_batch", "quiesce"],
  );
});

test("QuiesceBatchItemError: a request the server fails is rejected with that error; the others in its batch are answered", async () => {
  const server = fakeServer((request) =>
    request.groupId === "gone" ? new RaftError("ENOENT", "no group gone") : agree(request),
  );
  const batcher = new QuiesceBatcher(server.call);
  const [first, gone] = await Promise.allSettled([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g1"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("gone"), 1000),
  ]);
  assert.deepEqual(first, { status: "fulfilled", value: { term: 3, success: true } });
  assert.equal(gone.status, "rejected");
  assert.ok(RaftError.is(gone.reason) && gone.reason.code === "ENOENT", String(gone.reason));
});

/** Sends two Quiesces to one server in one turn through `call`; asserts both fail with `code`. */
async function assertBothRejected(call: LivenessCall, code: string): Promise<void> {
  const batcher = new QuiesceBatcher(call);
  const outcomes = await Promise.allSettled([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g1"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g2"), 1000),
  ]);
  for (const outcome of outcomes) {
    assert.equal(outcome.status, "rejected");
    assert.ok(RaftError.is(outcome.reason) && outcome.reason.code === code, String(outcome.reason));
  }
}

test("QuiesceBatchCallFails: when the batch's call fails, every request in it is rejected with that error", async () => {
  await assertBothRejected(() => Promise.reject(new RaftError("ETIMEDOUT", "no answer")), "ETIMEDOUT");
});

test("QuiesceBatchShortAnswer: an answer with fewer outcomes than requests rejects them all with EIO", async () => {
  const short: LivenessCall = () => Promise.resolve(encodeQuiesceBatchResponse([{ term: 3, success: true }]));
  await assertBothRejected(short, "EIO");
});

test("QuiesceBatchUnknownMethod: a server that answers ENOSYS to quiesce_batch gets one quiesce per request, then and from then on", async () => {
  const server = fakeServer(agree, false);
  const batcher = new QuiesceBatcher(server.call);
  const first = await Promise.all([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g1"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g2"), 1000),
  ]);
  assert.deepEqual(
    first.map((a) => a.success),
    [true, true],
  );
  await Promise.all([
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g3"), 1000),
    batcher.quiesce("127.0.0.1:8101", quiesceOf("g4"), 1000),
  ]);
  assert.deepEqual(
    server.calls.map((c) => `${c.method} ${c.groups.join(",")}`),
    ["quiesce_batch g1,g2", "quiesce g1", "quiesce g2", "quiesce g3", "quiesce g4"],
  );
});

test("QuiesceBatchOverTcp: a server answers a batch with each node's own response, and ENOENT for a group it does not host", async () => {
  const follower = await startServer();
  const leader = await startServer();
  const served: string[] = [];
  for (const group of ["g1", "g2"]) {
    const service = new FakeRaftService();
    follower.registerNode(group, peerOn(follower), {
      ...serviceMethods(service),
      quiesce: (request) => {
        served.push(request.groupId);
        return Promise.resolve({ term: 5, success: request.groupId === "g1" });
      },
    });
  }
  const liveness = leader.liveness;
  assert.ok(liveness !== undefined);
  const to = peerOn(follower);
  const [g1, g2, missing] = await Promise.allSettled([
    liveness.quiesce(to, quiesceOf("g1", to), 2000),
    liveness.quiesce(to, quiesceOf("g2", to), 2000),
    liveness.quiesce(to, quiesceOf("g-missing", to), 2000),
  ]);
  assert.deepEqual(g1, { status: "fulfilled", value: { term: 5, success: true } });
  assert.deepEqual(g2, { status: "fulfilled", value: { term: 5, success: false } });
  assert.equal(missing.status, "rejected");
  assert.ok(RaftError.is(missing.reason) && missing.reason.code === "ENOENT", String(missing.reason));
  assert.deepEqual(served.sort(), ["g1", "g2"]);
});

/** The RaftService methods of `service`, bound (registerNode takes a plain object). */
function serviceMethods(service: FakeRaftService) {
  return {
    requestVote: service.requestVote.bind(service),
    appendEntries: service.appendEntries.bind(service),
    timeoutNow: service.timeoutNow.bind(service),
    installSnapshot: service.installSnapshot.bind(service),
  };
}
