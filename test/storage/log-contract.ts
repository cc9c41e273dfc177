/**
 * The LogStorage contract: every implementation (memory://, local://, a user's own) must pass it.
 * A harness gives fresh locations and reopens a location as a new instance, which is how a node
 * restart looks to the storage.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { LogEntry } from "../../src/core/types.js";
import type { LogStorage } from "../../src/storage/interfaces.js";
import { confEntry, dataEntries, dataEntry, noopEntry, rejectsWith, seededRandom } from "./helpers.js";

export interface LogHarness {
  readonly name: string;
  /** A new, empty location (a directory, a store name). */
  newLocation(): Promise<string>;
  /** A new, uninitialized instance over `location`. */
  open(location: string): LogStorage;
  cleanup(): Promise<void>;
}

/** Opens and initializes, collecting the configuration entries init reports. */
export async function openLog(
  h: LogHarness,
  location: string,
): Promise<{ log: LogStorage; confs: LogEntry[] }> {
  const log = h.open(location);
  const confs: LogEntry[] = [];
  await log.init((entry) => confs.push(entry));
  return { log, confs };
}

/** Asserts the log holds exactly `expected` (index, term, type, data, conf). */
export function assertEntries(log: LogStorage, expected: readonly LogEntry[]): void {
  const first = expected[0]?.index;
  if (first !== undefined) assert.equal(log.firstLogIndex(), first, "firstLogIndex");
  assert.equal(log.lastLogIndex(), log.firstLogIndex() + expected.length - 1, "lastLogIndex");
  for (const want of expected) {
    const got = log.getEntry(want.index);
    assert.ok(got, `entry ${want.index} present`);
    assert.equal(got.index, want.index);
    assert.equal(got.term, want.term, `term of ${want.index}`);
    assert.equal(got.type, want.type, `type of ${want.index}`);
    assert.deepEqual(Buffer.from(got.data), Buffer.from(want.data), `data of ${want.index}`);
    assert.deepEqual(got.conf, want.conf, `conf of ${want.index}`);
    assert.equal(log.getTerm(want.index), want.term);
  }
}

export function runLogStorageContract(h: LogHarness): void {
  describe(`LogStorage contract: ${h.name}`, () => {
    after(() => h.cleanup());

    it("NewLog: starts empty at index 1", async () => {
      const { log, confs } = await openLog(h, await h.newLocation());
      assert.equal(log.firstLogIndex(), 1);
      assert.equal(log.lastLogIndex(), 0);
      assert.equal(log.getEntry(1), undefined);
      assert.equal(log.getTerm(0), 0);
      assert.equal(log.getTerm(1), 0);
      assert.deepEqual(confs, []);
      await log.close();
    });

    it("AppendAndRestart: every entry type reads back, before and after a restart", async () => {
      const location = await h.newLocation();
      const conf = confEntry(2, 1, { peers: ["127.0.0.1:8100:0", "127.0.0.1:8101:0"] });
      const joint = confEntry(4, 2, {
        peers: ["127.0.0.1:8100:0", "127.0.0.1:8102:0"],
        oldPeers: ["127.0.0.1:8100:0", "127.0.0.1:8101:0"],
        learners: ["127.0.0.1:8103:0"],
      });
      const entries = [noopEntry(1, 1), conf, dataEntry(3, 2, 0), joint, dataEntry(5, 2, 70_000)];
      const first = await openLog(h, location);
      await first.log.appendEntries(entries);
      assertEntries(first.log, entries);
      await first.log.close();
      const second = await openLog(h, location);
      assertEntries(second.log, entries);
      assert.deepEqual(
        second.confs.map((c) => [c.index, c.conf]),
        [
          [2, conf.conf],
          [4, joint.conf],
        ],
      );
      await second.log.close();
    });

    it("AppendMustContinue: a gap or overlap is rejected with EINVAL", async () => {
      const { log } = await openLog(h, await h.newLocation());
      await rejectsWith(log.appendEntries([dataEntry(2, 1)]), "EINVAL");
      await log.appendEntries(dataEntries(1, 3, 1));
      await rejectsWith(log.appendEntries([dataEntry(3, 1)]), "EINVAL");
      await rejectsWith(log.appendEntries([dataEntry(4, 1), dataEntry(6, 1)]), "EINVAL");
      await log.appendEntries([]);
      assert.equal(log.lastLogIndex(), 3);
      await log.close();
    });

    it("PipelinedAppends: appends issued without waiting all land, in order", async () => {
      const location = await h.newLocation();
      const { log } = await openLog(h, location);
      const all = dataEntries(1, 300, 3, 40);
      const writes: Promise<void>[] = [];
      for (let i = 0; i < all.length; i += 10) writes.push(log.appendEntries(all.slice(i, i + 10)));
      await Promise.all(writes);
      assertEntries(log, all);
      await log.close();
      const again = await openLog(h, location);
      assertEntries(again.log, all);
      await again.log.close();
    });

    it("TruncateSuffix: conflicting entries go and new ones follow, durably", async () => {
      const location = await h.newLocation();
      const { log } = await openLog(h, location);
      await log.appendEntries(dataEntries(1, 50, 1, 100));
      await log.truncateSuffix(20);
      assert.equal(log.lastLogIndex(), 20);
      assert.equal(log.getEntry(21), undefined);
      assert.equal(log.getTerm(21), 0);
      await rejectsWith(log.appendEntries([dataEntry(22, 2)]), "EINVAL");
      const newer = dataEntries(21, 30, 2, 60);
      await log.appendEntries(newer);
      await log.truncateSuffix(100); // beyond the end: nothing to do
      await log.close();
      const again = await openLog(h, location);
      assertEntries(again.log, [...dataEntries(1, 20, 1, 100), ...newer]);
      await again.log.truncateSuffix(0);
      assert.equal(again.log.lastLogIndex(), 0);
      await again.log.appendEntries([dataEntry(1, 5)]);
      assertEntries(again.log, [dataEntry(1, 5)]);
      await again.log.close();
    });

    it("TruncatePrefix: entries before the kept index go, durably", async () => {
      const location = await h.newLocation();
      const { log } = await openLog(h, location);
      await log.appendEntries(dataEntries(1, 60, 1, 200));
      await log.truncatePrefix(25);
      assert.equal(log.firstLogIndex(), 25);
      assert.equal(log.getEntry(24), undefined);
      assert.equal(log.getTerm(24), 0);
      await log.truncatePrefix(10); // already gone: nothing to do
      assert.equal(log.firstLogIndex(), 25);
      await log.close();
      const again = await openLog(h, location);
      assertEntries(again.log, dataEntries(25, 60, 1, 200));
      await again.log.appendEntries(dataEntries(61, 62, 2));
      assert.equal(again.log.lastLogIndex(), 62);
      // Truncating below the first index empties the log; appends continue at the first index.
      const queued = again.log.truncateSuffix(3);
      await rejectsWith(again.log.appendEntries([dataEntry(4, 3)]), "EINVAL");
      await queued;
      assert.equal(again.log.lastLogIndex(), 24);
      await again.log.appendEntries([dataEntry(25, 3)]);
      assertEntries(again.log, [dataEntry(25, 3)]);
      await again.log.close();
    });

    it("TruncatePrefixPastEnd: the log empties and continues at the kept index", async () => {
      const location = await h.newLocation();
      const { log } = await openLog(h, location);
      await log.appendEntries(dataEntries(1, 10, 1));
      await log.truncatePrefix(40);
      assert.equal(log.firstLogIndex(), 40);
      assert.equal(log.lastLogIndex(), 39);
      await log.appendEntries([dataEntry(40, 3)]);
      await log.close();
      const again = await openLog(h, location);
      assertEntries(again.log, [dataEntry(40, 3)]);
      await again.log.close();
    });

    it("Reset: the log empties and the next index is the one given", async () => {
      const location = await h.newLocation();
      const { log } = await openLog(h, location);
      await log.appendEntries(dataEntries(1, 30, 1, 300));
      await log.reset(15);
      assert.equal(log.firstLogIndex(), 15);
      assert.equal(log.lastLogIndex(), 14);
      assert.equal(log.getEntry(14), undefined);
      await rejectsWith(log.appendEntries([dataEntry(31, 1)]), "EINVAL");
      await log.appendEntries(dataEntries(15, 17, 4));
      await log.close();
      const again = await openLog(h, location);
      assertEntries(again.log, dataEntries(15, 17, 4));
      await rejectsWith(again.log.reset(0), "EINVAL");
      await again.log.close();
    });

    it("QueuedMutations: truncations queued behind appends apply in order", async () => {
      const { log } = await openLog(h, await h.newLocation());
      const ops = [
        log.appendEntries(dataEntries(1, 20, 1)),
        log.truncateSuffix(10),
        log.appendEntries(dataEntries(11, 15, 2)),
        log.truncatePrefix(5),
        log.appendEntries(dataEntries(16, 16, 2)),
      ];
      await Promise.all(ops);
      assertEntries(log, [...dataEntries(5, 10, 1), ...dataEntries(11, 16, 2)]);
      await log.close();
    });

    it("Close: is idempotent and later writes are refused", async () => {
      const { log } = await openLog(h, await h.newLocation());
      await log.appendEntries([dataEntry(1, 1)]);
      await log.close();
      await log.close();
      await rejectsWith(log.appendEntries([dataEntry(2, 1)]), "EINVAL");
    });

    it("RandomOperations: a seeded mix of operations and restarts matches a model", async () => {
      const seed = 20240603;
      const rand = seededRandom(seed);
      const location = await h.newLocation();
      let { log } = await openLog(h, location);
      let model: LogEntry[] = [];
      let first = 1;
      let term = 1;
      for (let step = 0; step < 80; step++) {
        const last = first + model.length - 1;
        const r = rand();
        if (r < 0.55) {
          const n = 1 + Math.floor(rand() * 20);
          const batch = dataEntries(last + 1, last + n, term, Math.floor(rand() * 300));
          await log.appendEntries(batch);
          model.push(...batch);
        } else if (r < 0.7 && model.length > 0) {
          const keep = first - 1 + Math.floor(rand() * model.length);
          await log.truncateSuffix(keep);
          model = model.slice(0, keep - first + 1);
          term++;
        } else if (r < 0.82 && model.length > 0) {
          const kept = first + Math.floor(rand() * (model.length + 1));
          await log.truncatePrefix(kept);
          model = model.slice(kept - first);
          first = kept;
        } else if (r < 0.86) {
          first = last + 1 + Math.floor(rand() * 5);
          await log.reset(first);
          model = [];
        } else {
          await log.close();
          ({ log } = await openLog(h, location));
        }
        assert.equal(log.firstLogIndex(), first, `seed ${seed} step ${step}: first`);
        assert.equal(log.lastLogIndex(), first + model.length - 1, `seed ${seed} step ${step}: last`);
      }
      await log.close();
      ({ log } = await openLog(h, location));
      assertEntries(log, model);
      await log.close();
    });
  });
}
