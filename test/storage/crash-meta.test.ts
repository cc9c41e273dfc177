/** Crash test of the local:// raft meta: kill -9 during saves loses no acknowledged term. */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { LocalRaftMetaStorage } from "../../src/storage/local/local-meta-storage.js";
import { runAndKill } from "./crash-harness.js";
import { removeDir, seededRandom, tempDir } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

describe("crash tests (SIGKILL): raft meta", () => {
  it("MetaCrash: the last acknowledged term and vote survive kill -9", async () => {
    const seed = Date.now() % 1_000_000;
    const rand = seededRandom(seed);
    const dir = await tempDir("tsraft-crash-meta-");
    dirs.push(dir);
    let acked = 0;
    for (let round = 1; round <= 4; round++) {
      const lines = await runAndKill(["meta", dir], 1 + Math.floor(rand() * 20));
      for (const line of lines) acked = Math.max(acked, Number(line.split(" ")[1]));
      const meta = new LocalRaftMetaStorage(dir);
      await meta.init();
      const { term, votedFor } = meta.getTermAndVotedFor();
      assert.ok(term >= acked, `seed ${seed} round ${round}: term ${term} < acknowledged ${acked}`);
      assert.equal(votedFor, `127.0.0.1:${term}:0`);
      await meta.close();
    }
  });
});
