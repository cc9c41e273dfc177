/** The RaftMetaStorage contract against memory:// and local://, plus local://'s file format. */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { RaftMetaStorage } from "../../src/storage/interfaces.js";
import { createRaftMetaStorageFromUri } from "../../src/storage/registry.js";
import { rejectsWith, removeDir, tempDir } from "./helpers.js";

interface MetaHarness {
  readonly name: string;
  newLocation(): Promise<string>;
  open(location: string): RaftMetaStorage;
}

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

async function newDir(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

let memoryCount = 0;
const harnesses: MetaHarness[] = [
  {
    name: "memory://",
    newLocation: async () => `meta-contract-${process.pid}-${memoryCount++}`,
    open: (name) => createRaftMetaStorageFromUri(`memory://${name}`),
  },
  {
    name: "local://",
    newLocation: async () => join(await newDir(), "meta"),
    open: (dir) => createRaftMetaStorageFromUri(`local://${dir}`),
  },
];

async function opened(h: MetaHarness, location: string): Promise<RaftMetaStorage> {
  const meta = h.open(location);
  await meta.init();
  return meta;
}

for (const h of harnesses) {
  describe(`RaftMetaStorage contract: ${h.name}`, () => {
    it("FreshNode: term 0 and no vote", async () => {
      const meta = await opened(h, await h.newLocation());
      assert.deepEqual(meta.getTermAndVotedFor(), { term: 0, votedFor: "" });
      await meta.close();
    });

    it("VoteSurvivesRestart: the last state set is what a restart reads", async () => {
      const location = await h.newLocation();
      const meta = await opened(h, location);
      await meta.setTermAndVotedFor({ term: 3, votedFor: "127.0.0.1:8100:0" });
      assert.deepEqual(meta.getTermAndVotedFor(), { term: 3, votedFor: "127.0.0.1:8100:0" });
      await Promise.all([
        meta.setTermAndVotedFor({ term: 4, votedFor: "" }),
        meta.setTermAndVotedFor({ term: 5, votedFor: "127.0.0.1:8101:0" }),
      ]);
      await meta.close();
      const again = await opened(h, location);
      assert.deepEqual(again.getTermAndVotedFor(), { term: 5, votedFor: "127.0.0.1:8101:0" });
      await again.close();
    });

    it("InvalidState: a negative or fractional term is EINVAL", async () => {
      const meta = await opened(h, await h.newLocation());
      await rejectsWith(meta.setTermAndVotedFor({ term: -1, votedFor: "" }), "EINVAL");
      await rejectsWith(meta.setTermAndVotedFor({ term: 1.5, votedFor: "" }), "EINVAL");
      await meta.close();
    });
  });
}

describe("local:// raft_meta file", () => {
  it("BraftFormat: a length-prefixed StablePBMeta {term=1, votedfor=2}", async () => {
    const dir = await newDir();
    const meta = await opened(harnesses[1]!, dir);
    await meta.setTermAndVotedFor({ term: 300, votedFor: "a:1:0" });
    await meta.close();
    const bytes = await readFile(join(dir, "raft_meta"));
    // 0x08 varint(300)=ac 02, 0x12 len 5 "a:1:0"
    assert.deepEqual([...bytes], [0, 0, 0, 10, 0x08, 0xac, 0x02, 0x12, 5, ...Buffer.from("a:1:0")]);
  });

  it("CorruptMeta: a garbled file refuses to start with an error naming it", async () => {
    const dir = await newDir();
    await writeFile(join(dir, "raft_meta"), Buffer.from([0, 0, 0, 9, 1, 2, 3]));
    const err = await rejectsWith(opened(harnesses[1]!, dir), "EIO");
    assert.match(err.message, /raft_meta/);
    await writeFile(join(dir, "raft_meta"), Buffer.from([0, 0, 0, 2, 0x08, 0xff]));
    assert.match((await rejectsWith(opened(harnesses[1]!, dir), "EIO")).message, /raft_meta/);
  });

  it("LeftoverTemp: a temp file from an interrupted save is ignored", async () => {
    const dir = await newDir();
    const meta = await opened(harnesses[1]!, dir);
    await meta.setTermAndVotedFor({ term: 2, votedFor: "" });
    await meta.close();
    await writeFile(join(dir, "raft_meta.tmp"), Buffer.from([0, 0]));
    const again = await opened(harnesses[1]!, dir);
    assert.deepEqual(again.getTermAndVotedFor(), { term: 2, votedFor: "" });
    await again.close();
  });
});
