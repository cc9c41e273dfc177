/**
 * braft's LogManager::check_consistency at start: a log that begins after snapshot + 1 (or, with
 * no snapshot, after index 1) has lost entries nobody can give back, and the node refuses to start
 * instead of resetting the log. Every legitimate layout still starts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { ConfigurationData, LogEntry, LogId } from "../../src/core/types.js";
import { LogManager } from "../../src/node/log-manager.js";
import { MemoryLogStorage, memoryLogStore } from "../../src/storage/memory-log-storage.js";
import { MemoryRaftMetaStorage } from "../../src/storage/memory-meta-storage.js";
import { RaftNode, Status, bootstrap, type StateMachine } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { dataEntries } from "../storage/helpers.js";

const CONF: ConfigurationData = { peers: ["127.0.0.1:9201:0"] };

/** A LogManager over a memory log holding `entries` (first index `first`). */
function managerOver(first: number, entries: LogEntry[]): { manager: LogManager; log: MemoryLogStorage } {
  const log = new MemoryLogStorage({ first, entries });
  return { manager: new LogManager(log, new MemoryRaftMetaStorage(), 8), log };
}

function snapshotAt(id: LogId): { id: LogId; conf: ConfigurationData } {
  return { id, conf: CONF };
}

function isEio(pattern: RegExp): (error: unknown) => boolean {
  return (error) => RaftError.is(error) && error.code === "EIO" && pattern.test(error.message);
}

test("CheckConsistency: a log starting after snapshot+1 refuses to start and keeps every entry", async () => {
  const { manager, log } = managerOver(20, dataEntries(20, 25, 2));
  await assert.rejects(
    manager.init(CONF, snapshotAt({ index: 10, term: 1 })),
    isEio(/gap between the snapshot \(last index 10, term 1\) and the log \(entries 20\.\.25\).*11\.\.19/s),
  );
  assert.equal(log.firstLogIndex(), 20, "the log was not reset");
  assert.equal(log.lastLogIndex(), 25);
  assert.equal(log.getTerm(25), 2);
});

test("CheckConsistency: the refusal tells the operator how to recover", async () => {
  const { manager } = managerOver(20, dataEntries(20, 25, 2));
  await assert.rejects(
    manager.init(CONF, snapshotAt({ index: 10, term: 1 })),
    isEio(/restore this node from a healthy peer/),
  );
});

test("CheckConsistency: without a snapshot, a log that does not start at 1 refuses to start", async () => {
  const { manager, log } = managerOver(5, dataEntries(5, 7, 1));
  await assert.rejects(manager.init(CONF, undefined), isEio(/entries 1\.\.4 are missing/));
  assert.equal(log.firstLogIndex(), 5);
});

test("CheckConsistency: a log starting right after the snapshot starts and keeps its entries", async () => {
  const { manager, log } = managerOver(11, dataEntries(11, 15, 2));
  await manager.init(CONF, snapshotAt({ index: 10, term: 1 }));
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [11, 15]);
});

test("CheckConsistency: a log overlapping the snapshot starts and loses only a prefix", async () => {
  const { manager, log } = managerOver(3, dataEntries(3, 15, 1));
  await manager.init(CONF, snapshotAt({ index: 10, term: 1 }));
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [11, 15]);
});

test("CheckConsistency: a log entirely covered by the snapshot starts empty after it", async () => {
  const { manager, log } = managerOver(1, dataEntries(1, 4, 1));
  await manager.init(CONF, snapshotAt({ index: 10, term: 1 }));
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [11, 10]);
  assert.equal(manager.term(10), 1, "the snapshot's term is known");
});

test("CheckConsistency: an empty new log starts with a snapshot", async () => {
  const { manager, log } = managerOver(1, []);
  await manager.init(CONF, snapshotAt({ index: 10, term: 1 }));
  assert.equal(log.lastLogIndex(), 10);
});

test("CheckConsistency: the log reset after an installed snapshot starts", async () => {
  // The install reset the log to snapshot+1 and the node crashed before any append.
  const { manager, log } = managerOver(11, []);
  await manager.init(CONF, snapshotAt({ index: 10, term: 3 }));
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [11, 10]);
});

test("CheckConsistency: a log disagreeing with the snapshot at its index is reset, as braft does", async () => {
  const { manager, log } = managerOver(8, dataEntries(8, 12, 1));
  await manager.init(CONF, snapshotAt({ index: 10, term: 2 }));
  assert.deepEqual([log.firstLogIndex(), log.lastLogIndex()], [11, 10]);
});

test("CheckConsistency: without a snapshot, an empty log and a log from 1 start", async () => {
  await managerOver(1, []).manager.init(CONF, undefined);
  await managerOver(1, dataEntries(1, 3, 1)).manager.init(CONF, undefined);
});

test("CheckConsistency: RaftNode.init rejects with EIO and leaves the durable log as it was", async () => {
  const run = `log-gap-${process.pid}-${Date.now()}`;
  const peer = "127.0.0.1:9201:0";
  const uris = {
    logUri: `memory://${run}/log`,
    raftMetaUri: `memory://${run}/meta`,
    snapshotUri: `memory://${run}/snapshot`,
  };
  const fsm: StateMachine = {
    onApply() {},
    onSnapshotSave(_writer, done) {
      done.run(Status.OK());
    },
    onSnapshotLoad() {},
  };
  await bootstrap({ groupConf: peer, lastLogIndex: 10, fsm, ...uris });
  // Entries 11..19 vanished (a log directory restored from another moment, a bad copy...).
  const store = memoryLogStore(`${run}/log`);
  store.first = 20;
  store.entries = dataEntries(20, 22, 1);
  const node = new RaftNode("gap", peer);
  try {
    await assert.rejects(
      node.init({ fsm, server: new InProcessNetwork().host(peer), ...uris }),
      isEio(/gap between the snapshot/),
    );
  } finally {
    await node.shutdown();
  }
  assert.deepEqual([store.first, store.entries.length], [20, 3], "nothing was dropped");
});
