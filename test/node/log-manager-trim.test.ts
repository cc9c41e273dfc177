/**
 * A snapshot trims the log (braft keeps it from the previous snapshot on, or a margin of entries
 * before the new one). The term of the entry just before the log's first stays known, so a leader
 * can still send from the first entry it holds: a witness leader, which sends no snapshot, has no
 * other way to bring a replica up to date (sim seed 2199).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConfigurationData } from "../../src/core/types.js";
import { LogManager } from "../../src/node/log-manager.js";
import { MemoryLogStorage } from "../../src/storage/memory-log-storage.js";
import { MemoryRaftMetaStorage } from "../../src/storage/memory-meta-storage.js";
import { dataEntries } from "../storage/helpers.js";

const CONF: ConfigurationData = { peers: ["127.0.0.1:9201:0"] };

/** A started LogManager over entries 1..20 of term 1 and 21..30 of term 2. */
async function startedManager(): Promise<LogManager> {
  const log = new MemoryLogStorage({
    first: 1,
    entries: [...dataEntries(1, 20, 1), ...dataEntries(21, 30, 2)],
  });
  const manager = new LogManager(log, new MemoryRaftMetaStorage(), 8);
  await manager.init(CONF, undefined);
  return manager;
}

test("SnapshotTrimKeepsBoundaryTerm: trimmed to a margin before the snapshot, the log still knows the term before its first entry", async () => {
  const manager = await startedManager();
  await manager.setSnapshot({ index: 25, term: 2 }, 8);
  assert.equal(manager.firstIndex(), 18);
  assert.equal(manager.term(17), 1, "the term of the entry before the first");
  assert.equal(manager.term(16), undefined, "nothing older");
});

test("SnapshotTrimKeepsBoundaryTerm: trimmed from the previous snapshot on, the log still knows that snapshot's term", async () => {
  const manager = await startedManager();
  await manager.setSnapshot({ index: 10, term: 1 }, undefined);
  assert.equal(manager.firstIndex(), 1, "the first snapshot trims nothing");
  await manager.setSnapshot({ index: 25, term: 2 }, undefined);
  assert.equal(manager.firstIndex(), 11);
  assert.equal(manager.term(10), 1, "the previous snapshot's term");
  assert.equal(manager.term(25), 2, "the newest snapshot's term");
  await manager.setSnapshot({ index: 28, term: 2 }, undefined);
  assert.equal(manager.firstIndex(), 26);
  assert.equal(manager.term(25), 2);
  assert.equal(manager.term(10), undefined, "an older boundary is forgotten");
});
