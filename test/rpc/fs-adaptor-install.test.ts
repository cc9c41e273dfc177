/**
 * NodeOptions.snapshotFileSystemAdaptor end to end, over real TCP: a leader saves its snapshot
 * through its adaptor, serves it to a wiped follower through the FileService, the follower writes
 * it through its own adaptor, restarts and loads it. Once with an encrypting adaptor (each node
 * its own key: the files on disk are ciphertext, the bytes on the wire are the snapshot), once
 * with an in-memory one (nothing on disk). And adaptors that fail: clear RaftErrors, no crash.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  FileOpenFlags,
  MemoryFileSystemAdaptor,
  RaftError,
  RaftNode,
  Status,
  type Closure,
  type FileSystemAdaptor,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";
import type { RaftServer } from "../../src/server.js";
import { create } from "@bufbuild/protobuf";
import { FileReaderRegistry } from "../../src/rpc/file-reader-registry.js";
import { decodeSegments } from "../../src/rpc/file-seg-data.js";
import { FileServiceImpl } from "../../src/rpc/file-service.js";
import { GetFileRequestSchema } from "../../src/rpc/gen/braft/file_service_pb.js";
import { snapshotDirName } from "../../src/storage/local/local-snapshot-storage.js";
import type { SnapshotFileMeta } from "../../src/storage/snapshot-storage.js";
import { EncryptingFileSystem } from "../support/encrypting-fs.js";
import { startServer, stopAll, waitFor } from "./helpers.js";

after(stopAll);

const PLAINTEXT_MARK = "tsraft-counter=";

/** Sums the first byte of each entry; its snapshot file is written through `writer.fileSystem`. */
class AdaptorCounter implements StateMachine {
  value = 0;
  /** The value read from the last snapshot loaded. */
  loaded: number | undefined;
  onApply(iter: Iterator): void {
    for (const entry of iter) this.value += entry.data[0] ?? 0;
  }
  async onSnapshotSave(writer: SnapshotWriter, done: Closure): Promise<void> {
    const fs = writer.fileSystem as FileSystemAdaptor;
    try {
      const file = await fs.open(join(writer.path, "value"), FileOpenFlags.writeNew);
      await file.write(new TextEncoder().encode(`${PLAINTEXT_MARK}${this.value}`), 0);
      await file.close();
      writer.addFile("value");
      done.run(Status.OK());
    } catch (err) {
      done.run(Status.error("EIO", String(err)));
    }
  }
  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    const fs = reader.fileSystem as FileSystemAdaptor;
    const file = await fs.open(join(reader.path, "value"), FileOpenFlags.read);
    const text = new TextDecoder().decode(await file.read(0, await file.size()));
    await file.close();
    assert.ok(text.startsWith(PLAINTEXT_MARK), `the snapshot file reads back as written: ${text}`);
    this.value = this.loaded = Number(text.slice(PLAINTEXT_MARK.length));
  }
}

interface Member {
  node: RaftNode;
  fsm: AdaptorCounter;
}

/** A three-node group whose node i keeps its data in `root/n<i>` and its snapshots through fs(i). */
class Group {
  readonly members: Member[] = [];
  private constructor(
    readonly root: string,
    readonly servers: RaftServer[],
    readonly fileSystems: FileSystemAdaptor[],
  ) {}

  static async start(fileSystems: FileSystemAdaptor[]): Promise<Group> {
    const root = mkdtempSync(join(tmpdir(), "tsraft-fs-adaptor-"));
    const servers = await Promise.all(fileSystems.map(() => startServer()));
    const group = new Group(root, servers, fileSystems);
    for (let i = 0; i < fileSystems.length; i++) group.members.push(await group.startNode(i));
    await waitFor(() => group.members.some((m) => m.node.isLeader()), "a leader", 10_000);
    return group;
  }

  get peers(): string[] {
    return this.servers.map((s) => `${s.address}:0`);
  }

  dir(i: number): string {
    return join(this.root, `n${i}`);
  }

  async startNode(i: number): Promise<Member> {
    const fsm = new AdaptorCounter();
    const node = new RaftNode("fs-adaptor", this.peers[i] as string);
    await node.init({
      fsm,
      server: this.servers[i] as RaftServer,
      initialConf: this.peers.join(","),
      electionTimeoutMs: 300,
      logUri: `local://${this.dir(i)}/log`,
      raftMetaUri: `local://${this.dir(i)}/meta`,
      snapshotUri: `local://${this.dir(i)}/snapshot`,
      snapshotLogMarginEntries: 0,
      snapshotFileSystemAdaptor: this.fileSystems[i] as FileSystemAdaptor,
    });
    this.members[i] = { node, fsm };
    return this.members[i];
  }

  leader(): Member {
    const leader = this.members.find((m) => m.node.isLeader());
    assert.ok(leader !== undefined, "a leader");
    return leader;
  }

  async apply(times: number, value: number): Promise<void> {
    for (let i = 0; i < times; i++) await this.leader().node.apply(Uint8Array.of(value));
  }

  /** Stops a follower, wipes its data (its adaptor gets `fresh`), compacts the leader's log. */
  async wipeFollower(fresh: (i: number) => FileSystemAdaptor): Promise<number> {
    const i = this.members.findIndex((m) => !m.node.isLeader());
    await (this.members[i] as Member).node.shutdown();
    rmSync(this.dir(i), { recursive: true, force: true });
    this.fileSystems[i] = fresh(i);
    await this.apply(10, 2);
    await this.leader().node.snapshot();
    assert.ok(this.leader().node.getStatus().firstIndex > 20, "the leader compacted its log");
    await this.apply(5, 3);
    return i;
  }

  /** Wipes a follower (see wipeFollower), restarts it and waits for it to install and catch up. */
  async wipeAndCatchUp(fresh: (i: number) => FileSystemAdaptor): Promise<{ f: number; follower: Member }> {
    const f = await this.wipeFollower(fresh);
    const follower = await this.startNode(f);
    await waitFor(() => follower.fsm.value === 55, "the wiped follower to reach the leader's state", 15_000);
    return { f, follower };
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.node.shutdown()));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The bytes of the newest snapshot's `name` of node i as its adaptor stores them. */
function storedBytes(
  group: Group,
  i: number,
  index: number,
  name: string,
  memory?: MemoryFileSystemAdaptor,
): Buffer {
  const path = join(group.dir(i), "snapshot", snapshotDirName(index), name);
  const bytes = memory === undefined ? readFileSync(path) : memory.readFileSync(path);
  assert.ok(bytes !== undefined, `${path} exists`);
  return Buffer.from(bytes);
}

describe("snapshotFileSystemAdaptor over TCP", () => {
  test("EncryptedSnapshotInstall: files at rest are ciphertext; a follower installs with its own key, restarts, loads", async () => {
    const group = await Group.start([0, 1, 2].map(() => new EncryptingFileSystem(randomBytes(32))));
    try {
      await group.apply(20, 1);
      await group.leader().node.snapshot();
      const leaderIndex = group.members.indexOf(group.leader());
      const taken = group.leader().node.getStatus().lastSnapshotIndex;
      const leaderFile = storedBytes(group, leaderIndex, taken, "value");
      assert.equal(
        leaderFile.includes(PLAINTEXT_MARK),
        false,
        "the leader's file on disk is not the plaintext",
      );
      const leaderMeta = storedBytes(group, leaderIndex, taken, "__raft_snapshot_meta");
      assert.equal(leaderMeta.includes(group.peers[0] as string), false, "nor is its snapshot meta");

      const { f, follower } = await group.wipeAndCatchUp(() => new EncryptingFileSystem(randomBytes(32)));
      const installed = follower.node.getStatus().lastSnapshotIndex;
      assert.ok(installed > 20, "it installed the leader's snapshot");
      const copied = storedBytes(group, f, installed, "value");
      assert.equal(copied.includes(PLAINTEXT_MARK), false, "the follower's copy on disk is ciphertext");
      const leaderNow = storedBytes(group, group.members.indexOf(group.leader()), installed, "value");
      assert.notDeepEqual(copied, leaderNow, "under the follower's own key and IV, not the leader's bytes");

      await follower.node.shutdown();
      const restarted = await group.startNode(f);
      assert.equal(restarted.fsm.loaded, 40, "the restarted follower loaded the installed snapshot");
      await waitFor(() => restarted.fsm.value === 55, "the restarted follower to catch up", 10_000);
    } finally {
      await group.stop();
    }
  });

  test("InMemorySnapshotInstall: snapshots live in each node's MemoryFileSystemAdaptor, none on disk", async () => {
    const memories = [0, 1, 2].map(() => new MemoryFileSystemAdaptor());
    const group = await Group.start([...memories]);
    try {
      await group.apply(20, 1);
      const { f, follower } = await group.wipeAndCatchUp(
        (i) => (memories[i] = new MemoryFileSystemAdaptor()),
      );
      const installed = follower.node.getStatus().lastSnapshotIndex;
      const copied = storedBytes(group, f, installed, "value", memories[f]);
      assert.equal(copied.toString(), `${PLAINTEXT_MARK}40`);
      assert.equal(
        existsSync(join(group.dir(f), "snapshot", snapshotDirName(installed))),
        false,
        "not on disk",
      );
      await follower.node.shutdown();
      const restarted = await group.startNode(f);
      assert.equal(restarted.fsm.loaded, 40, "the restarted follower loaded the snapshot from memory");
    } finally {
      await group.stop();
    }
  });
});

/** A memory adaptor whose calls fail while `failing(op, path)` says so, with a count of failures. */
class FailingFileSystem extends MemoryFileSystemAdaptor {
  failures = 0;
  failing: (op: "open" | "read" | "rename", path: string, flags?: number) => boolean = () => false;

  override async open(path: string, flags: number) {
    if (this.failing("open", path, flags)) {
      this.failures++;
      throw "the adaptor threw a string"; // not even an Error
    }
    const file = await super.open(path, flags);
    const read = file.read.bind(file);
    file.read = (offset, size) => {
      if (!this.failing("read", path)) return read(offset, size);
      this.failures++;
      throw new Error("read failed in the adaptor"); // synchronously
    };
    return file;
  }

  override async rename(oldPath: string, newPath: string): Promise<void> {
    if (this.failing("rename", newPath)) {
      this.failures++;
      throw Object.assign(new Error("no space left"), { code: "ENOSPC" });
    }
    return super.rename(oldPath, newPath);
  }
}

const isTsraftWrite = (path: string, flags?: number): boolean =>
  flags === FileOpenFlags.writeNew && !path.endsWith("/value");

describe("snapshotFileSystemAdaptor that fails", () => {
  test("SnapshotSaveFailsInAdaptor: snapshot() rejects with the adaptor's RaftError; the node stays leader", async () => {
    const fss = [0, 1, 2].map(() => new FailingFileSystem());
    const group = await Group.start(fss);
    try {
      await group.apply(5, 1);
      const leader = group.leader();
      const fs = fss[group.members.indexOf(leader)] as FailingFileSystem;
      fs.failing = (op, path, flags) => op === "open" && isTsraftWrite(path, flags);
      const err = await leader.node.snapshot().then(
        () => assert.fail("snapshot() resolved"),
        (e: unknown) => e,
      );
      assert.ok(RaftError.is(err), `a RaftError: ${String(err)}`);
      assert.equal(err.code, "EIO");
      assert.match(err.message, /__raft_snapshot_meta.*FileSystemAdaptor FailingFileSystem.*threw a string/);
      fs.failing = (op) => op === "rename";
      await assert.rejects(leader.node.snapshot(), (e) => RaftError.is(e) && e.code === "ENOSPC");
      assert.equal(leader.node.isLeader(), true);
      await leader.node.apply(Uint8Array.of(1));
      fs.failing = () => false;
      await leader.node.snapshot();
      assert.ok(leader.node.getStatus().lastSnapshotIndex >= 6);
    } finally {
      await group.stop();
    }
  });

  test("InstallFailsInAdaptor: a follower's or a leader's failing adaptor stops the install, not the nodes", async () => {
    const fss: FailingFileSystem[] = [0, 1, 2].map(() => new FailingFileSystem());
    const group = await Group.start(fss);
    try {
      await group.apply(20, 1);
      const f = await group.wipeFollower((i) => {
        const fresh = new FailingFileSystem();
        fresh.failing = (op, path, flags) =>
          op === "open" && flags === FileOpenFlags.writeNew && path.includes("temp");
        return (fss[i] = fresh);
      });
      const follower = await group.startNode(f);
      await waitFor(
        () => (fss[f] as FailingFileSystem).failures >= 2,
        "the follower's adaptor to fail twice",
        10_000,
      );
      assert.notEqual(follower.node.getStatus().state, "ERROR");
      await group.apply(1, 0); // the group keeps committing
      // Now the leader's adaptor fails to read what it serves, and the follower's works.
      const leaderFs = fss[group.members.indexOf(group.leader())] as FailingFileSystem;
      leaderFs.failing = (op, path) => op === "read" && path.endsWith("/value");
      (fss[f] as FailingFileSystem).failing = () => false;
      await waitFor(() => leaderFs.failures >= 1, "the leader's adaptor to fail a read", 10_000);
      assert.equal(follower.fsm.value, 0, "nothing installed from a failed read");
      leaderFs.failing = () => false;
      await waitFor(() => follower.fsm.value === 55, "the install once both adaptors work", 20_000);
      for (const m of group.members) assert.notEqual(m.node.getStatus().state, "ERROR");
    } finally {
      await group.stop();
    }
  });
});

/** A memory adaptor that records the snapshot hooks and the file meta each open was given. */
class HookedFileSystem extends MemoryFileSystemAdaptor {
  readonly calls: string[] = [];
  openAnswer = true;
  override async open(path: string, flags: number, fileMeta?: SnapshotFileMeta) {
    if (flags === FileOpenFlags.read) this.calls.push(`open ${path} ${fileMeta?.checksum ?? "-"}`);
    return super.open(path, flags);
  }
  openSnapshot(path: string): boolean {
    this.calls.push(`openSnapshot ${path}`);
    return this.openAnswer;
  }
  closeSnapshot(path: string): void {
    this.calls.push(`closeSnapshot ${path}`);
  }
}

async function readerOn(fs: HookedFileSystem, path: string): Promise<SnapshotReader> {
  await fs.createDirectory(path, true);
  const file = await fs.open(`${path}/data`, FileOpenFlags.writeNew);
  await file.write(new TextEncoder().encode("served through the adaptor"), 0);
  await file.close();
  return {
    path,
    fileSystem: fs,
    listFiles: () => ["data"],
    getFileMeta: () => ({ checksum: "c1" }),
    loadMeta: () => ({ lastIncludedIndex: 7, lastIncludedTerm: 1, peers: ["127.0.0.1:1:0"] }),
    generateUriForCopy: () => "",
  };
}

describe("FileService through a reader's FileSystemAdaptor", () => {
  const request = (readerId: bigint, filename: string) =>
    create(GetFileRequestSchema, { readerId, filename, offset: 0n, count: 1024n, readPartly: true });

  test("FileServiceThroughAdaptor: openSnapshot before the first file, files opened with their meta, closeSnapshot when released", async () => {
    const fs = new HookedFileSystem();
    const registry = new FileReaderRegistry({ address: "127.0.0.1:1", idleTimeoutMs: 0 });
    const service = new FileServiceImpl(registry);
    const served = registry.registerReader(await readerOn(fs, "/snap"));
    const result = await service.getFile(request(served.readerId, "data"));
    assert.equal(result.eof, true);
    const [segment] = decodeSegments(Buffer.concat(result.attachment ?? []));
    assert.equal(new TextDecoder().decode(segment?.data), "served through the adaptor");
    await service.getFile(request(served.readerId, "data"));
    served.release();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(fs.calls, ["openSnapshot /snap", "open /snap/data c1", "closeSnapshot /snap"]);
  });

  test("FileServiceAdaptorRefuses: openSnapshot answering false fails get_file with EIO, and no file is opened", async () => {
    const fs = new HookedFileSystem();
    fs.openAnswer = false;
    const registry = new FileReaderRegistry({ address: "127.0.0.1:1", idleTimeoutMs: 0 });
    const service = new FileServiceImpl(registry);
    const served = registry.registerReader(await readerOn(fs, "/snap"));
    await assert.rejects(
      service.getFile(request(served.readerId, "data")),
      (e) => RaftError.is(e) && e.code === "EIO" && /FileSystemAdaptor refused/.test(e.message),
    );
    served.release();
    assert.deepEqual(fs.calls, ["openSnapshot /snap"]);
  });
});
