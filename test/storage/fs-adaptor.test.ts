/**
 * braft's FileSystemAdaptor: the same contract for the real file system (PosixFileSystemAdaptor)
 * and the in-memory one; the checked wrapper that turns a user adaptor's failures into
 * RaftErrors; and LocalSnapshotStorage keeping its snapshots through an adaptor.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  FileOpenFlags,
  MemoryFileSystemAdaptor,
  PosixFileSystemAdaptor,
  RaftError,
  type ErrorCode,
  type FileSystemAdaptor,
} from "../../src/index.js";
import {
  checkedFileSystem,
  readWholeFile,
  saveProtoBufFileVia,
} from "../../src/storage/fs-adaptor-checked.js";
import { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import { snapshotDirName } from "../../src/storage/local/local-snapshot-storage.js";
import { EncryptingFileSystem } from "../support/encrypting-fs.js";
import { rejectsWith, removeDir, tempDir } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

/** Rejects with a RaftError of `code` whose message matches `message`. */
async function rejectsLike(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  assert.match((await rejectsWith(promise, code)).message, message);
}

async function newDir(): Promise<string> {
  const dir = await tempDir("tsraft-fs-adaptor-");
  dirs.push(dir);
  return dir;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function names(fs: FileSystemAdaptor, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const name of fs.directoryReader(dir)) out.push(name);
  return out.sort();
}

const adaptors: { name: string; make: () => Promise<{ fs: FileSystemAdaptor; root: string }> }[] = [
  {
    name: "PosixFileSystemAdaptor",
    make: async () => ({ fs: new PosixFileSystemAdaptor(), root: await newDir() }),
  },
  {
    name: "MemoryFileSystemAdaptor",
    make: async () => ({ fs: new MemoryFileSystemAdaptor(), root: "/data" }),
  },
  {
    name: "EncryptingFileSystem over memory",
    make: async () => ({
      fs: new EncryptingFileSystem(randomBytes(32), new MemoryFileSystemAdaptor()),
      root: "/d",
    }),
  },
];

for (const { name, make } of adaptors) {
  describe(`FileSystemAdaptor contract: ${name}`, () => {
    it("writes at offsets, reads back, reports size; reads stop at the end", async () => {
      const { fs, root } = await make();
      await fs.createDirectory(join(root, "a", "b"), true);
      const file = await fs.open(join(root, "a", "b", "f"), FileOpenFlags.writeNew);
      assert.equal(await file.write(text("hello"), 0), 5);
      assert.equal(await file.write(text("world"), 7), 5);
      await file.sync();
      await file.close();
      const again = await fs.open(join(root, "a", "b", "f"), FileOpenFlags.read);
      assert.equal(await again.size(), 12);
      assert.equal(str(await again.read(7, 100)), "world");
      assert.equal(str(await again.read(1, 3)), "ell");
      assert.equal((await again.read(20, 4)).length, 0);
      await again.close();
    });

    it("opening for writing truncates; opening a missing file to read fails with ENOENT", async () => {
      const { fs, root } = await make();
      await fs.createDirectory(root, true);
      const path = join(root, "f");
      for (const body of ["a long first body", "short"]) {
        const file = await fs.open(path, FileOpenFlags.writeNew);
        await file.write(text(body), 0);
        await file.close();
      }
      const file = await fs.open(path, FileOpenFlags.read);
      assert.equal(str(await file.read(0, 100)), "short");
      await file.close();
      await assert.rejects(fs.open(join(root, "missing"), FileOpenFlags.read), { code: "ENOENT" });
    });

    it("renames, links, lists and deletes (recursively, and what does not exist)", async () => {
      const { fs, root } = await make();
      await fs.createDirectory(join(root, "temp", "sub"), true);
      await fs.createDirectory(join(root, "temp"), false); // exists: succeeds
      const file = await fs.open(join(root, "temp", "sub", "x"), FileOpenFlags.writeNew);
      await file.write(text("x"), 0);
      await file.close();
      await fs.rename(join(root, "temp"), join(root, "snap"));
      assert.deepEqual(await names(fs, root), ["snap"]);
      assert.equal(await fs.directoryExists(join(root, "snap", "sub")), true);
      assert.equal(await fs.pathExists(join(root, "snap", "sub", "x")), true);
      assert.equal(await fs.directoryExists(join(root, "snap", "sub", "x")), false);
      await fs.link(join(root, "snap", "sub", "x"), join(root, "snap", "y"));
      assert.deepEqual(await names(fs, join(root, "snap")), ["sub", "y"]);
      await fs.deleteFile(join(root, "snap", "sub", "x"), false);
      assert.equal(await fs.pathExists(join(root, "snap", "y")), true, "the link keeps the bytes");
      await fs.deleteFile(join(root, "nothing"), true);
      await fs.deleteFile(join(root, "snap"), true);
      assert.equal(await fs.pathExists(join(root, "snap")), false);
    });
  });
}

describe("EncryptingFileSystem (the test's AES-256-CTR adaptor)", () => {
  it("stores ciphertext with a per-file IV and decrypts reads at any offset", async () => {
    const memory = new MemoryFileSystemAdaptor();
    const fs = new EncryptingFileSystem(randomBytes(32), memory);
    const plain = randomBytes(1000);
    const file = await fs.open("/f", FileOpenFlags.writeNew);
    await file.write(plain.subarray(0, 333), 0);
    await file.write(plain.subarray(333), 333);
    await file.close();
    const stored = memory.readFileSync("/f") as Uint8Array;
    assert.equal(stored.length, 1016);
    assert.notDeepEqual(stored.subarray(16), new Uint8Array(plain));
    const read = await fs.open("/f", FileOpenFlags.read);
    assert.deepEqual(Buffer.from(await read.read(17, 500)), plain.subarray(17, 517));
    await read.close();
  });
});

describe("CheckedFileSystem: a user adaptor's failures", () => {
  const failing = (thrown: unknown): FileSystemAdaptor => {
    const fs = new MemoryFileSystemAdaptor();
    fs.open = () => {
      throw thrown; // synchronously, not even a rejected promise
    };
    return fs;
  };

  it("an Error, a string or a code become RaftErrors naming the operation, path and adaptor", async () => {
    await rejectsLike(
      checkedFileSystem(failing(new Error("disk on fire"))).open("/x", FileOpenFlags.read),
      "EIO",
      /Fail to open \/x \(FileSystemAdaptor MemoryFileSystemAdaptor\): disk on fire/,
    );
    await rejectsLike(
      checkedFileSystem(failing("just a string")).open("/x", FileOpenFlags.read),
      "EIO",
      /just a string/,
    );
    await rejectsLike(
      checkedFileSystem(failing(Object.assign(new Error("full"), { code: "ENOSPC" }))).open(
        "/x",
        FileOpenFlags.read,
      ),
      "ENOSPC",
      /full/,
    );
  });

  it("a RaftError thrown by the adaptor is kept as it is", async () => {
    const own = new RaftError("EACCES", "key locked");
    await assert.rejects(
      checkedFileSystem(failing(own)).open("/x", FileOpenFlags.read),
      (err) => err === own,
    );
  });

  it("answers that break the contract are EIO: no FileAdaptor, a long read, a bad size", async () => {
    const fs = new MemoryFileSystemAdaptor();
    await saveProtoBufFileVia(checkedFileSystem(fs), "/m", text("meta"), true);
    const liar: FileSystemAdaptor = Object.assign(Object.create(fs) as MemoryFileSystemAdaptor, {
      open: async () => ({
        read: async () => new Uint8Array(9),
        size: async () => -1,
        write: async () => 0,
        sync: async () => undefined,
        close: async () => undefined,
      }),
    });
    await rejectsLike(readWholeFile(checkedFileSystem(liar), "/m"), "EIO", /size answered number -1/);
    const noFile: FileSystemAdaptor = Object.assign(Object.create(fs) as MemoryFileSystemAdaptor, {
      open: async () => 42,
    });
    await rejectsLike(checkedFileSystem(noFile).open("/m", FileOpenFlags.read), "EIO", /no FileAdaptor/);
  });
});

const meta = (index: number) => ({
  lastIncludedIndex: index,
  lastIncludedTerm: 1,
  peers: ["127.0.0.1:8100:0"],
});

async function saveThrough(storage: LocalSnapshotStorage, index: number, body: string): Promise<void> {
  const writer = await storage.create();
  const fs = writer.fileSystem as FileSystemAdaptor;
  const file = await fs.open(join(writer.path, "data"), FileOpenFlags.writeNew);
  await file.write(text(body), 0);
  await file.close();
  writer.addFile("data", { checksum: `c${index}` });
  writer.saveMeta(meta(index));
  await storage.closeWriter(writer);
}

describe("LocalSnapshotStorage through a FileSystemAdaptor", () => {
  it("keeps its snapshots in an in-memory adaptor: nothing on disk, found again by a new instance", async () => {
    const fs = new MemoryFileSystemAdaptor();
    const dir = join(await newDir(), "snapshot");
    const storage = new LocalSnapshotStorage(dir);
    storage.setFileSystemAdaptor(fs);
    await storage.init();
    await saveThrough(storage, 5, "five");
    await saveThrough(storage, 9, "nine");
    assert.equal(existsSync(dir), false, "no directory on the real disk");
    assert.deepEqual(fs.listFilesSync(), [
      join(dir, snapshotDirName(9), "__raft_snapshot_meta"),
      join(dir, snapshotDirName(9), "data"),
    ]);
    await storage.close();
    const reopened = new LocalSnapshotStorage(dir);
    reopened.setFileSystemAdaptor(fs);
    await reopened.init();
    const reader = await reopened.open();
    assert.ok(reader !== undefined);
    assert.equal(reader.loadMeta().lastIncludedIndex, 9);
    assert.deepEqual(reader.getFileMeta("data"), { checksum: "c9" });
    assert.equal(
      str(
        await readWholeFile(
          checkedFileSystem(reader.fileSystem as FileSystemAdaptor),
          join(reader.path, "data"),
        ),
      ),
      "nine",
    );
    await reopened.closeReader(reader);
  });

  it("through an encrypting adaptor, the meta and the files on disk are not the plaintext", async () => {
    const dir = join(await newDir(), "snapshot");
    const key = randomBytes(32);
    const storage = new LocalSnapshotStorage(dir);
    storage.setFileSystemAdaptor(new EncryptingFileSystem(key));
    await storage.init();
    await saveThrough(storage, 3, "secret body of the snapshot");
    const snap = join(dir, snapshotDirName(3));
    assert.deepEqual((await readdir(snap)).sort(), ["__raft_snapshot_meta", "data"]);
    const onDisk = await readFile(join(snap, "data"));
    assert.equal(onDisk.includes("secret"), false);
    assert.equal((await readFile(join(snap, "__raft_snapshot_meta"))).includes("127.0.0.1:8100:0"), false);
    const plainStorage = new LocalSnapshotStorage(dir, { lockDirectory: false });
    await plainStorage.init().catch(() => undefined);
    await rejectsLike(plainStorage.open(), "EIO", /Corrupted file/);
    await storage.close();
  });

  it("refuses a new adaptor once initialized", async () => {
    const storage = new LocalSnapshotStorage("/s");
    storage.setFileSystemAdaptor(new MemoryFileSystemAdaptor());
    await storage.init();
    assert.throws(() => storage.setFileSystemAdaptor(new MemoryFileSystemAdaptor()), { code: "EINVAL" });
  });
});
