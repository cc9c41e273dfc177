/** Snapshot copy over TCP: RemoteFileCopier, copySnapshot and the snapshot throttle. */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import { ChannelPool } from "../../src/rpc/channel-pool.js";
import { FileReaderRegistry } from "../../src/rpc/file-reader-registry.js";
import { encodeSegment } from "../../src/rpc/file-seg-data.js";
import { FileServiceImpl, SNAPSHOT_META_FILE_NAME } from "../../src/rpc/file-service.js";
import { FileService, type GetFileRequest } from "../../src/rpc/gen/braft/file_service_pb.js";
import type { RaftServer } from "../../src/server.js";
import { RemoteFileCopier, parseRemoteUri } from "../../src/rpc/remote-file-copier.js";
import { copySnapshot } from "../../src/rpc/remote-snapshot-copier.js";
import { ThroughputSnapshotThrottle } from "../../src/rpc/snapshot-throttle.js";
import { RpcSnapshotTransfer } from "../../src/rpc/snapshot-transfer.js";
import type { SnapshotThrottle as NodeSnapshotThrottle, SnapshotTransfer } from "../../src/node/ports.js";
import { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import { encodeSnapshotTable } from "../../src/storage/local/snapshot-meta-codec.js";
import type { SnapshotReader } from "../../src/storage/snapshot-storage.js";
import { startServer, stopAll, waitFor } from "./helpers.js";
import {
  AutoClock,
  META_AT,
  ManualClock,
  fileHash,
  localSnapshot,
  rejectsWith,
  removeDir,
  tempDir,
  type FileSpec,
} from "./snapshot-fixtures.js";

const CHUNK = 128 * 1024;
const BIG_BYTES = 5 * 1024 * 1024 + 1;

const LEADER_FILES: readonly FileSpec[] = [
  {
    name: "data/small.txt",
    content: "small file",
    meta: { checksum: "c-small", userMeta: new Uint8Array([9]) },
  },
  { name: "big.bin", size: BIG_BYTES, meta: { checksum: "c-big" } },
  { name: "nochecksum.bin", size: 200 * 1024 },
  { name: "changed.bin", size: 300 * 1024, meta: { checksum: "c-new" } },
  { name: "empty", content: "" },
];

type Hook = (request: GetFileRequest, calls: readonly GetFileRequest[]) => Promise<void> | void;

interface Leader {
  readonly server: RaftServer;
  readonly reader: SnapshotReader;
  readonly uri: string;
  readonly calls: GetFileRequest[];
  hook: Hook | undefined;
}

const dirs: string[] = [];
const pool = new ChannelPool();
after(async () => {
  pool.close();
  await stopAll();
  for (const dir of dirs) await removeDir(dir);
});

async function newDir(): Promise<string> {
  const dir = await tempDir();
  dirs.push(dir);
  return dir;
}

/** A leader serving a snapshot of `files`, recording every get_file and running `hook` first. */
async function startLeader(files: readonly FileSpec[] = LEADER_FILES): Promise<Leader> {
  const storage = await localSnapshot(join(await newDir(), "snap"), 100, files);
  const server = await startServer();
  const registry = new FileReaderRegistry({ address: () => server.address });
  const impl = new FileServiceImpl(registry);
  const leader: Leader = { server, reader: undefined as never, uri: "", calls: [], hook: undefined };
  server.removeService(FileService.typeName); // replaced by an instrumented one
  server.addService(FileService, {
    get_file: async (request, ctx) => {
      leader.calls.push(request);
      await leader.hook?.(request, leader.calls);
      const result = await impl.getFile(request);
      ctx.responseAttachment = result.attachment;
      return { eof: result.eof, readSize: result.readSize };
    },
  });
  storage.setCopyRegistrar(registry.registrar);
  const reader = await storage.open();
  assert.ok(reader);
  return Object.assign(leader, { reader, uri: reader.generateUriForCopy() });
}

async function follower(files?: readonly FileSpec[]): Promise<LocalSnapshotStorage> {
  const dir = join(await newDir(), "snap");
  if (files !== undefined) return localSnapshot(dir, 10, files);
  const storage = new LocalSnapshotStorage(dir);
  await storage.init();
  return storage;
}

const callsFor = (leader: Leader, name: string) => leader.calls.filter((c) => c.filename === name).length;
const chunksOf = (size: number) => Math.max(1, Math.ceil(size / CHUNK));

async function assertSameSnapshot(copy: SnapshotReader, source: SnapshotReader): Promise<void> {
  assert.deepEqual(copy.loadMeta(), source.loadMeta());
  assert.deepEqual(copy.listFiles().sort(), source.listFiles().sort());
  for (const name of source.listFiles()) {
    const { source: _ignored, ...expected } = source.getFileMeta(name) ?? {};
    assert.deepEqual(copy.getFileMeta(name), expected, `meta of ${name}`);
    assert.equal(await fileHash(join(copy.path, name)), await fileHash(join(source.path, name)), name);
  }
}

describe("copySnapshot", () => {
  it("InstallSnapshot: every file arrives byte for byte, in 128 KiB chunks", async () => {
    const leader = await startLeader();
    const storage = await follower();
    const writer = await storage.create();
    const meta = await copySnapshot(leader.uri, writer, { channels: pool });
    assert.deepEqual(meta, META_AT(100));
    await storage.closeWriter(writer);
    const copy = await storage.open();
    assert.ok(copy);
    await assertSameSnapshot(copy, leader.reader);
    assert.equal(callsFor(leader, SNAPSHOT_META_FILE_NAME), 1);
    assert.equal(callsFor(leader, "big.bin"), chunksOf(BIG_BYTES));
    assert.equal(callsFor(leader, "empty"), 1);
    assert.ok(leader.calls.every((c) => c.count <= BigInt(CHUNK) || c.filename === SNAPSHOT_META_FILE_NAME));
    assert.equal((await stat(join(copy.path, "empty"))).size, 0);
  });

  it("ChunkSize: maxByteCountPerRpc sets the request size", async () => {
    const leader = await startLeader([{ name: "f", size: 100_000 }]);
    const storage = await follower();
    const writer = await storage.create();
    await copySnapshot(leader.uri, writer, { channels: pool, maxByteCountPerRpc: 10_000 });
    await storage.closeWriter(writer);
    assert.equal(callsFor(leader, "f"), 10);
    const copy = await storage.open();
    assert.ok(copy);
    await assertSameSnapshot(copy, leader.reader);
  });

  it("FilterBeforeCopyRemote: files with the same name and checksum are linked, not downloaded", async () => {
    const leader = await startLeader();
    // The follower's last snapshot: same big.bin, an older changed.bin, same bytes without checksum.
    const storage = await follower([
      { name: "big.bin", size: BIG_BYTES, meta: { checksum: "c-big" } },
      { name: "changed.bin", size: 300 * 1024, meta: { checksum: "c-old" } },
      { name: "nochecksum.bin", size: 200 * 1024 },
    ]);
    const local = await storage.open();
    assert.ok(local);
    const writer = await storage.create();
    const events: string[] = [];
    await copySnapshot(leader.uri, writer, {
      channels: pool,
      filterBeforeCopyRemote: true,
      localReader: local,
      onFile: (name, how) => events.push(`${how}:${name}`),
    });
    assert.equal(callsFor(leader, "big.bin"), 0, "big.bin comes from the local snapshot");
    assert.equal(callsFor(leader, "changed.bin"), chunksOf(300 * 1024));
    assert.equal(callsFor(leader, "nochecksum.bin"), chunksOf(200 * 1024), "no checksum: always downloaded");
    assert.ok(events.includes("linked:big.bin"));
    const linked = await stat(join(writer.path, "big.bin"));
    assert.equal(linked.ino, (await stat(join(local.path, "big.bin"))).ino, "a hard link");
    await storage.closeWriter(writer);
    await storage.closeReader(local);
    const copy = await storage.open();
    assert.ok(copy);
    await assertSameSnapshot(copy, leader.reader);
  });

  it("FilterBeforeCopyRemote off: everything is downloaded", async () => {
    const leader = await startLeader([{ name: "big.bin", size: 300 * 1024, meta: { checksum: "c-big" } }]);
    const storage = await follower([{ name: "big.bin", size: 300 * 1024, meta: { checksum: "c-big" } }]);
    const local = await storage.open();
    assert.ok(local);
    const writer = await storage.create();
    await copySnapshot(leader.uri, writer, { channels: pool, localReader: local });
    assert.equal(callsFor(leader, "big.bin"), chunksOf(300 * 1024));
    await storage.closeReader(local);
    await storage.closeWriter(writer);
  });

  it("AbortMidCopy: a newer install cancels the copy at once, in-flight call included", async () => {
    const leader = await startLeader();
    let unblock = (): void => undefined;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    leader.hook = (request) => (request.filename === "big.bin" && request.offset > 0n ? blocked : undefined);
    const storage = await follower();
    const writer = await storage.create();
    const controller = new AbortController();
    const copying = copySnapshot(leader.uri, writer, { channels: pool, signal: controller.signal });
    await waitFor(
      () => leader.calls.some((c) => c.filename === "big.bin" && c.offset > 0n),
      "copy of big.bin",
    );
    const started = performance.now();
    controller.abort();
    await rejectsWith(copying, "ECANCELED");
    assert.ok(performance.now() - started < 1000, "cancelled promptly");
    assert.equal((writer.error as RaftError | undefined)?.code, "ECANCELED");
    await rejectsWith(storage.closeWriter(writer), "ECANCELED");
    assert.equal(existsSync(writer.path), false, "the partial copy is discarded");
    unblock();
  });

  it("AbortDuringBackoff: waiting to retry does not delay cancellation", async () => {
    const leader = await startLeader();
    leader.hook = (request) => {
      if (request.filename === "big.bin") throw new RaftError("EIO", "disk trouble");
    };
    const storage = await follower();
    const writer = await storage.create();
    const controller = new AbortController();
    const copying = copySnapshot(leader.uri, writer, {
      channels: pool,
      signal: controller.signal,
      retryIntervalMs: 60_000,
    });
    await waitFor(() => callsFor(leader, "big.bin") === 1, "first failure");
    controller.abort();
    await rejectsWith(copying, "ECANCELED");
    assert.equal(callsFor(leader, "big.bin"), 1);
  });

  it("Retry: a failed chunk is retried, up to maxRetry times", async () => {
    const leader = await startLeader([{ name: "f", size: 3 * CHUNK }]);
    let failures = 2;
    leader.hook = (request) => {
      if (request.filename === "f" && request.offset === BigInt(CHUNK) && failures-- > 0) {
        throw new RaftError("EIO", "transient");
      }
    };
    const storage = await follower();
    const writer = await storage.create();
    await copySnapshot(leader.uri, writer, { channels: pool, retryIntervalMs: 1 });
    assert.equal(callsFor(leader, "f"), 3 + 2);
    await storage.closeWriter(writer);
    const copy = await storage.open();
    assert.ok(copy);
    await assertSameSnapshot(copy, leader.reader);

    leader.hook = (request) => {
      if (request.filename === "f") throw new RaftError("EIO", "broken");
    };
    leader.calls.length = 0;
    const failing = await storage.create();
    await rejectsWith(
      copySnapshot(leader.uri, failing, { channels: pool, retryIntervalMs: 1, maxRetry: 2 }),
      "EIO",
    );
    assert.equal(callsFor(leader, "f"), 1 + 2);
    assert.equal((failing.error as RaftError | undefined)?.code, "EIO");
    await rejectsWith(storage.closeWriter(failing), "EIO");
  });

  it("Retry: EAGAIN (throttled leader) never uses up the retries", async () => {
    const leader = await startLeader([{ name: "f", size: 1000 }]);
    let throttled = 4;
    leader.hook = (request) => {
      if (request.filename === "f" && throttled-- > 0) throw new RaftError("EAGAIN", "throttled");
    };
    const storage = await follower();
    const writer = await storage.create();
    await copySnapshot(leader.uri, writer, { channels: pool, retryIntervalMs: 1, maxRetry: 0 });
    assert.equal(callsFor(leader, "f"), 5);
    await storage.closeWriter(writer);
  });

  it("UnknownReader: ENOENT at once, without retries", async () => {
    const leader = await startLeader([{ name: "f", content: "x" }]);
    const { endpoint, readerId } = parseRemoteUri(leader.uri);
    const storage = await follower();
    const writer = await storage.create();
    const uri = `remote://${endpoint}/${readerId + 99n}`;
    await rejectsWith(copySnapshot(uri, writer, { channels: pool, retryIntervalMs: 60_000 }), "ENOENT");
    assert.equal(leader.calls.length, 1);
    await rejectsWith(storage.closeWriter(writer), "ENOENT");
  });

  it("BadUri: EINVAL", async () => {
    assert.throws(
      () => parseRemoteUri("local://x"),
      (err: unknown) => RaftError.is(err) && err.code === "EINVAL",
    );
    assert.throws(
      () => parseRemoteUri("remote://1.2.3.4:5/abc"),
      (err: unknown) => RaftError.is(err) && err.code === "EINVAL",
    );
    assert.deepEqual(parseRemoteUri("remote://1.2.3.4:5/-17"), { endpoint: "1.2.3.4:5", readerId: -17n });
    const storage = await follower();
    const writer = await storage.create();
    await rejectsWith(copySnapshot("remote://nowhere", writer, { channels: pool }), "EINVAL");
    await rejectsWith(storage.closeWriter(writer), "EINVAL");
  });

  it("HostileMeta: file names escaping the writer's directory are refused", async () => {
    const server = await startServer();
    const table = encodeSnapshotTable({ meta: META_AT(5), files: new Map([["../../escaped", {}]]) });
    server.removeService(FileService.typeName);
    server.addService(FileService, {
      get_file: (request, ctx) => {
        ctx.responseAttachment =
          request.filename === SNAPSHOT_META_FILE_NAME ? encodeSegment(0, table) : undefined;
        return { eof: true, readSize: BigInt(table.length) };
      },
    });
    const storage = await follower();
    const writer = await storage.create();
    await rejectsWith(copySnapshot(`remote://${server.address}/1`, writer, { channels: pool }), "EINVAL");
    assert.equal(existsSync(join(writer.path, "../../escaped")), false);
    await rejectsWith(storage.closeWriter(writer), "EINVAL");
  });

  it("Memory: copying a 64 MiB file grows RSS by far less than the file", { timeout: 30_000 }, async () => {
    const size = 64 * 1024 * 1024;
    const leader = await startLeader([{ name: "huge.bin", size }]);
    const storage = await follower();
    const writer = await storage.create();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
    try {
      await copySnapshot(leader.uri, writer, { channels: pool });
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    const growthMiB = (peak - baseline) / (1024 * 1024);
    assert.ok(growthMiB < 40, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
    assert.equal((await stat(join(writer.path, "huge.bin"))).size, size);
    assert.equal(
      await fileHash(join(writer.path, "huge.bin")),
      await fileHash(join(leader.reader.path, "huge.bin")),
    );
    await storage.closeWriter(writer);
  });
});

describe("RpcSnapshotTransfer", () => {
  it("InstallSnapshot: a node's SnapshotTransfer serves on one server and copies on another", async () => {
    const leaderServer = await startServer();
    const followerServer = await startServer({
      snapshotTransfer: { copy: { maxByteCountPerRpc: 64 * 1024 } },
    });
    const leaderSide = leaderServer.snapshotTransfer;
    const followerSide: SnapshotTransfer = followerServer.snapshotTransfer;
    const source = await localSnapshot(join(await newDir(), "snap"), 7, LEADER_FILES);
    source.setCopyRegistrar((reader) => leaderSide.registerReader(reader, leaderServer.address));
    const reader = await source.open();
    assert.ok(reader);
    const uri = reader.generateUriForCopy();
    assert.ok(uri.startsWith(`remote://${leaderServer.address}/`));

    const storage = await follower();
    const writer = await storage.create();
    let acquired = 0;
    // The node's SnapshotThrottle: only `acquire`, resolving when the bytes may move.
    const throttle = { acquire: async (bytes: number) => void (acquired += bytes) };
    const meta = await followerSide.copySnapshot(uri, writer, {
      signal: new AbortController().signal,
      filterBeforeCopyRemote: false,
      throttle,
    });
    assert.deepEqual(meta, META_AT(7));
    assert.ok(acquired >= BIG_BYTES, "every chunk went through the throttle");
    await storage.closeWriter(writer);
    const copy = await storage.open();
    assert.ok(copy);
    await assertSameSnapshot(copy, reader);
    await source.closeReader(reader);
    assert.equal(leaderSide.registry.size, 0, "closing the reader unregisters it");
  });

  it("Once per server: a second FileService on the same server is refused", async () => {
    const server = await startServer();
    assert.throws(
      () => new RpcSnapshotTransfer(server),
      (err: unknown) => RaftError.is(err) && err.code === "EEXIST",
    );
  });
});

describe("RemoteFileCopier", () => {
  it("CopyToFile: one file through a Channel instead of a pool", async () => {
    const leader = await startLeader([{ name: "f", size: 400_000 }]);
    const dir = await newDir();
    const copier = new RemoteFileCopier(leader.uri, pool.get(leader.server.address), {
      maxByteCountPerRpc: 65536,
    });
    assert.equal(await copier.copyToFile("f", join(dir, "f"), { sync: true }), 400_000);
    assert.equal(copier.rpcCount, Math.ceil(400_000 / 65536));
    assert.equal(await fileHash(join(dir, "f")), await fileHash(join(leader.reader.path, "f")));
  });

  it("Throttled: a follower-side throttle paces the copy on its clock", async () => {
    const leader = await startLeader([{ name: "f", size: 1024 * 1024 }]);
    const clock = new AutoClock();
    // 256 KiB/s in 10 cycles: at most 26214 bytes per 100 ms.
    const throttle = new ThroughputSnapshotThrottle(256 * 1024, 10, { clock });
    const dir = await newDir();
    const copier = new RemoteFileCopier(leader.uri, pool, { clock });
    await copier.copyToFile("f", join(dir, "f"), { throttle });
    assert.equal(await fileHash(join(dir, "f")), await fileHash(join(leader.reader.path, "f")));
    assert.ok(
      leader.calls.every((c) => c.count <= 26214n),
      "each request asks for at most one cycle's budget",
    );
    const seconds = clock.nowMs() / 1000;
    assert.ok(seconds > 3.5 && seconds < 4.5, `1 MiB at 256 KiB/s took ${seconds} virtual seconds`);
  });
});

describe("ThroughputSnapshotThrottle", () => {
  it("Cycles: each cycle grants throughput / checkCycle bytes, braft's arithmetic", () => {
    const clock = new ManualClock();
    const throttle = new ThroughputSnapshotThrottle(1000, 10, { clock }); // 100 bytes per 100 ms
    assert.equal(throttle.throttledByThroughput(60), 60);
    assert.equal(throttle.throttledByThroughput(60), 40, "what is left of the cycle");
    assert.equal(throttle.throttledByThroughput(10), 0, "the cycle is used up");
    clock.advance(150);
    assert.equal(throttle.throttledByThroughput(500), 100, "a new cycle, capped at its budget");
    throttle.returnUnusedThroughput(100, 30, 0);
    assert.equal(throttle.throttledByThroughput(100), 70, "unused bytes of this cycle come back");
    clock.advance(100);
    assert.equal(throttle.throttledByThroughput(100), 100);
    throttle.returnUnusedThroughput(100, 0, 150); // granted before this cycle: ignored
    assert.equal(throttle.throttledByThroughput(1), 0);
    assert.equal(throttle.retryIntervalMs, 101);
  });

  it("MinimalThreshold: raft_minimal_throttle_threshold_mb is a floor", () => {
    const throttle = new ThroughputSnapshotThrottle(1, 1, {
      clock: new ManualClock(),
      minimalThrottleThresholdMb: 1,
    });
    assert.equal(throttle.throttledByThroughput(2 * 1024 * 1024), 1024 * 1024);
  });

  it("Acquire: waits for the next cycle on the injected clock; abort cancels the wait", async () => {
    const clock = new ManualClock();
    const throttle = new ThroughputSnapshotThrottle(1000, 10, { clock }); // 100 bytes per 100 ms
    assert.equal(await throttle.acquireUpTo(100), 100);
    let granted: number | undefined;
    const waiting = throttle.acquireUpTo(50).then((n) => (granted = n));
    await Promise.resolve();
    assert.equal(granted, undefined);
    clock.advance(throttle.retryIntervalMs);
    await waiting;
    assert.equal(granted, 50);

    // acquire (the node's interface) waits for all of it, over as many cycles as needed.
    let done = false;
    const whole = throttle.acquire(250).then(() => (done = true));
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    await settle();
    clock.advance(throttle.retryIntervalMs);
    await settle();
    assert.equal(done, false, "50 bytes left in this cycle, then 100 in the next: 150 of 250");
    clock.advance(throttle.retryIntervalMs);
    await whole;

    const controller = new AbortController();
    throttle.throttledByThroughput(1000);
    const aborted = throttle.acquireUpTo(10, controller.signal);
    controller.abort();
    await rejectsWith(aborted, "ECANCELED");
    assert.equal(clock.pendingTimers, 0, "the cancelled wait left no timer");
  });

  it("Tasks: raft_max_install_snapshot_tasks_num bounds follower installs, never leaders", () => {
    const throttle = new ThroughputSnapshotThrottle(1000, 10, { maxInstallSnapshotTasks: 2 });
    const asNodeOption: NodeSnapshotThrottle = throttle; // NodeOptions.snapshotThrottle takes it
    assert.ok(asNodeOption);
    assert.equal(throttle.addOneMoreTask(false), true);
    assert.equal(throttle.addOneMoreTask(false), true);
    assert.equal(throttle.addOneMoreTask(false), false);
    assert.equal(throttle.addOneMoreTask(true), true);
    throttle.finishOneTask(true);
    throttle.finishOneTask(false);
    assert.equal(throttle.taskCount, 1);
    assert.equal(throttle.addOneMoreTask(false), true);
  });
});
