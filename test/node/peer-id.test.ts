import assert from "node:assert/strict";
import { test } from "node:test";
import { Configuration, PeerId, RaftError, Status } from "../../src/index.js";

const isEinval = (e: unknown): boolean => RaftError.is(e) && e.code === "EINVAL";

test("PeerId parses braft's forms and prints the canonical one", () => {
  assert.equal(PeerId.parse("127.0.0.1:8100").toString(), "127.0.0.1:8100:0");
  assert.equal(PeerId.parse("127.0.0.1:8100:2").toString(), "127.0.0.1:8100:2");
  assert.equal(PeerId.parse("127.0.0.1:8100:2:0").toString(), "127.0.0.1:8100:2");
  assert.equal(
    PeerId.parse("127.0.0.1:8100:2:1").toString(),
    "127.0.0.1:8100:2:1",
    "a witness keeps its role",
  );
  assert.ok(PeerId.parse("10.0.0.1:1:0").equals("10.0.0.1:1"));
  assert.equal(PeerId.parse("10.0.0.1:8100:3").endpoint, "10.0.0.1:8100");
  for (const bad of ["", "host", "h:port", "h:1:x", "h:70000", "h:1:0:7", ":1", "h:1:0:0:0"]) {
    assert.throws(() => PeerId.parse(bad), isEinval, bad);
  }
});

test("Configuration parses, deduplicates and sorts peers; learners are marked", () => {
  const conf = Configuration.parse("b:2:0, a:1:0,b:2:0,c:3:0/learner");
  assert.deepEqual(conf.peerKeys(), ["a:1:0", "b:2:0"]);
  assert.deepEqual(conf.learnerKeys(), ["c:3:0"]);
  assert.equal(conf.toString(), "a:1:0,b:2:0,c:3:0/learner");
  assert.ok(conf.contains("a:1"));
  assert.ok(Configuration.parse("").isEmpty());
  assert.throws(() => Configuration.parse("a:1:0,nonsense"), isEinval);
});

test("Status carries braft's numeric codes", () => {
  assert.ok(Status.OK().ok());
  const status = Status.error("EPERM", "not leader");
  assert.equal(status.errorCode, 1);
  assert.equal(status.code, "EPERM");
  const error = Status.error("ECATCHUP", "slow").toError();
  assert.equal(error.errno, 10003);
  assert.ok(RaftError.is(error));
});
