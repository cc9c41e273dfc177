/** Crash test of the local:// log: kill -9 during pipelined appends loses no acknowledged entry. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { runAndKill } from "./crash-harness.js";
import { crashPayloadSize, payloadFor, removeDir, seededRandom, tempDir } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

const ROUNDS = 8;

describe("crash tests (SIGKILL): log", () => {
  it("LogCrash: every acknowledged entry survives kill -9, intact and contiguous", async () => {
    const seed = Date.now() % 1_000_000;
    const rand = seededRandom(seed);
    const dir = await tempDir("tsraft-crash-");
    dirs.push(dir);
    const ackedTerm = new Map<number, number>();
    let ackedLast = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const lines = await runAndKill(["log", dir, String(round)], 1 + Math.floor(rand() * 40));
      for (const line of lines) {
        const [, first, last, term] = line.split(" ").map(Number);
        for (let i = first!; i <= last!; i++) ackedTerm.set(i, term!);
        ackedLast = Math.max(ackedLast, last!);
      }
      const log = new SegmentLogStorage(dir, { raft_max_segment_size: 32 * 1024 });
      await log.init(() => undefined);
      const context = `seed ${seed} round ${round}`;
      assert.equal(log.firstLogIndex(), 1, context);
      assert.ok(
        log.lastLogIndex() >= ackedLast,
        `${context}: last ${log.lastLogIndex()} < acked ${ackedLast}`,
      );
      for (let i = 1; i <= log.lastLogIndex(); i++) {
        const entry = log.getEntry(i);
        assert.ok(entry, `${context}: entry ${i} missing`);
        assert.deepEqual(
          Buffer.from(entry.data),
          Buffer.from(payloadFor(i, crashPayloadSize(i))),
          `${context}: data ${i}`,
        );
        const term = ackedTerm.get(i);
        if (term !== undefined) assert.equal(entry.term, term, `${context}: term ${i}`);
      }
      await log.close();
    }
    assert.ok(ackedLast > ROUNDS, `only ${ackedLast} entries acknowledged in ${ROUNDS} rounds`);
  });
});
