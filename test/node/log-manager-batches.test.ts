/**
 * How the LogManager merges queued persist jobs into one write, and where it must not: a job
 * that overwrites entries of an earlier job in the same batch would let the earlier job's
 * answers (a follower's AppendEntries success) go out when those entries are no longer durable.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { LogManager } from "../../src/node/log-manager.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import { MemoryRaftMetaStorage } from "../../src/storage/memory-meta-storage.js";
import { dataEntries } from "../storage/helpers.js";

async function managerOver(log: MemoryLogStorage): Promise<LogManager> {
  const manager = new LogManager(log, new MemoryRaftMetaStorage(), 8);
  await manager.init({ peers: ["127.0.0.1:9201:0"] }, undefined);
  return manager;
}

test("WriteBatchOverwrite: a queued job whose entries a later job overwrites is durable as written when it resolves", async () => {
  const log = new MemoryLogStorage({ first: 1, entries: dataEntries(1, 5, 1) });
  const manager = await managerOver(log);
  const running = manager.persist({ hardState: undefined, entries: dataEntries(6, 6, 1) });
  // Both queue behind the running write: a term-1 append of entry 7, then a term-2 leader's
  // entry 7 that replaces it (the follower moved to term 2 in between).
  const termOneSeen = manager
    .persist({ hardState: undefined, entries: dataEntries(7, 7, 1) })
    .then(() => log.getEntry(7)?.term);
  const termTwo = manager.persist({ hardState: { term: 2, votedFor: "" }, entries: dataEntries(7, 7, 2) });
  await running;
  assert.equal(await termOneSeen, 1, "when the term-1 job resolved, its entry 7 was the durable one");
  await termTwo;
  assert.equal(log.getEntry(7)?.term, 2);
});

/** Counts the log's appendEntries calls from now on. */
function countWrites(log: MemoryLogStorage): { count: number } {
  const counter = { count: 0 };
  const append = log.appendEntries.bind(log);
  log.appendEntries = (entries) => {
    counter.count++;
    return append(entries);
  };
  return counter;
}

test("WriteBatchMerge: queued jobs that only extend the log are still merged into one write", async () => {
  const log = new MemoryLogStorage({ first: 1, entries: dataEntries(1, 5, 1) });
  const manager = await managerOver(log);
  const appends = countWrites(log);
  const running = manager.persist({ hardState: undefined, entries: dataEntries(6, 6, 1) });
  await Promise.resolve(); // the write starts a microtask after its job is queued
  await Promise.resolve();
  const queued = [7, 8, 9].map((i) =>
    manager.persist({ hardState: undefined, entries: dataEntries(i, i, 1) }),
  );
  await Promise.all([running, ...queued]);
  assert.equal(appends.count, 2, "the running write, then one write for the three queued jobs");
  assert.equal(log.lastLogIndex(), 9);
});

test("WriteBatchSameRun: jobs queued in one synchronous run share the first write", async () => {
  const log = new MemoryLogStorage({ first: 1, entries: dataEntries(1, 5, 1) });
  const manager = await managerOver(log);
  const appends = countWrites(log);
  const jobs = [6, 7, 8, 9].map((i) =>
    manager.persist({ hardState: undefined, entries: dataEntries(i, i, 1) }),
  );
  await Promise.all(jobs);
  assert.equal(appends.count, 1, "one write for the four jobs");
  assert.equal(log.lastLogIndex(), 9);
});
