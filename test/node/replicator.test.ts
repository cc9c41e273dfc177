/** The Replicator's hold on the snapshot it sends: every retry must offer the same reader. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { Send } from "../../src/core/events.js";
import type { InstallSnapshotResponse } from "../../src/core/messages.js";
import { Replicator } from "../../src/node/replicator.js";
import type { RaftClient } from "../../src/node/ports.js";

interface Pending {
  readonly uri: string;
  settle(outcome: InstallSnapshotResponse | RaftError): void;
}

/** A replicator whose install RPCs wait for the test, and whose snapshots count opens and releases. */
function harness(): {
  replicator: Replicator;
  pending: Pending[];
  opened: () => number;
  released: () => number;
} {
  const pending: Pending[] = [];
  let opens = 0;
  let releases = 0;
  const refuse = (): Promise<never> => Promise.reject(new RaftError("ENOSYS", "not in this test"));
  const client: RaftClient = {
    requestVote: refuse,
    appendEntries: refuse,
    timeoutNow: refuse,
    installSnapshot: (_to, request) =>
      new Promise((resolve, reject) => {
        pending.push({
          uri: request.uri,
          settle: (outcome) => (RaftError.is(outcome) ? reject(outcome) : resolve(outcome)),
        });
      }),
  };
  const host = {
    onResponse: () => undefined,
    onFailure: () => undefined,
    openSnapshot: () => {
      opens++;
      const meta = { lastIncludedIndex: 10, lastIncludedTerm: 1, conf: { peers: ["a:1:0"] } };
      return Promise.resolve({ meta, uri: `remote://a:1/${opens}`, release: () => void releases++ });
    },
  };
  const replicator = new Replicator("b:1:0", client, 1000, host, () => 0);
  return { replicator, pending, opened: () => opens, released: () => releases };
}

let seq = 1;
function install(): Send {
  const request = { groupId: "g", serverId: "a:1:0", peerId: "b:1:0", term: 1 };
  return {
    seq: seq++,
    message: { kind: "installSnapshot", to: "b:1:0", request },
    heartbeat: false,
    createdAtMs: 0,
  };
}

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("Replicator: a refusal of a superseded install keeps the snapshot the joined install copies from", async () => {
  const { replicator, pending, opened, released } = harness();
  replicator.send(install());
  await settled();
  replicator.send(install()); // a retry while the first is in flight (a change retried after ECATCHUP)
  await settled();
  assert.equal(pending.length, 2);
  assert.equal(pending[0]?.uri, pending[1]?.uri, "the retry offers the same reader");
  assert.equal(opened(), 1);
  pending[0]?.settle({ term: 1, success: false }); // the follower joined the copy: the first is answered
  await settled();
  assert.equal(released(), 0, "the copy in progress keeps its source");
  pending[1]?.settle({ term: 1, success: true });
  await settled();
  assert.equal(released(), 1, "released once no install is left");
});

test("Replicator: a timed-out install keeps its snapshot for the retry; a failure releases it", async () => {
  const { replicator, pending, opened, released } = harness();
  replicator.send(install());
  await settled();
  pending[0]?.settle(new RaftError("ERAFTTIMEDOUT", "install timed out"));
  await settled();
  assert.equal(released(), 0, "the follower may still be copying");
  replicator.send(install());
  await settled();
  assert.equal(pending[1]?.uri, pending[0]?.uri, "the retry joins the same copy");
  pending[1]?.settle(new RaftError("EHOSTUNREACH", "peer unreachable"));
  await settled();
  assert.equal(released(), 1);
  replicator.send(install());
  await settled();
  assert.equal(opened(), 2, "the next install opens the newest snapshot");
  assert.notEqual(pending[2]?.uri, pending[0]?.uri);
});
