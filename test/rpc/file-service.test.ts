/** braft.FileService get_file served from a local snapshot over TCP, and the reader registry. */
import assert from "node:assert/strict";
import { readFile, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ChannelPool } from "../../src/rpc/channel-pool.js";
import { FileReaderRegistry } from "../../src/rpc/file-reader-registry.js";
import { SEGMENT_HEADER_BYTES, decodeSegments } from "../../src/rpc/file-seg-data.js";
import { FileServiceImpl, SNAPSHOT_META_FILE_NAME } from "../../src/rpc/file-service.js";
import { FileService, type GetFileRequest } from "../../src/rpc/gen/braft/file_service_pb.js";
import { ThroughputSnapshotThrottle } from "../../src/rpc/snapshot-throttle.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { create } from "@bufbuild/protobuf";
import { GetFileRequestSchema } from "../../src/rpc/gen/braft/file_service_pb.js";
import { decodeSnapshotTable } from "../../src/storage/local/snapshot-meta-codec.js";
import type { LocalSnapshotStorage } from "../../src/storage/local/local-snapshot-storage.js";
import type { SnapshotReader } from "../../src/storage/snapshot-storage.js";
import { startServer, stopAll } from "./helpers.js";
import {
  META_AT,
  ManualClock,
  localSnapshot,
  patternBytes,
  seedOf,
  rejectsWith,
  removeDir,
  tempDir,
} from "./snapshot-fixtures.js";

const BIG_BYTES = 3 * 1024 * 1024 + 17;

describe("FileService get_file", () => {
  let dir: string;
  let storage: LocalSnapshotStorage;
  let reader: SnapshotReader;
  let registry: FileReaderRegistry;
  let uri: string;
  let readerId: bigint;
  const pool = new ChannelPool();
  let endpoint: string;

  before(async () => {
    dir = await tempDir();
    await writeFile(join(dir, "secret"), "not for peers");
    storage = await localSnapshot(join(dir, "snap"), 42, [
      { name: "small", content: "hello", meta: { checksum: "c-small", userMeta: new Uint8Array([1, 2]) } },
      { name: "sub/nested", content: "nested file" },
      { name: "big.bin", size: BIG_BYTES, meta: { checksum: "c-big" } },
      { name: "gone", content: "deleted after the snapshot was taken" },
    ]);
    const server = await startServer();
    endpoint = server.address;
    registry = server.snapshotTransfer.registry;
    storage.setCopyRegistrar(registry.registrar);
    const opened = await storage.open();
    assert.ok(opened);
    reader = opened;
    uri = reader.generateUriForCopy();
    readerId = BigInt(uri.slice(uri.lastIndexOf("/") + 1));
    await unlink(join(reader.path, "gone"));
  });

  after(async () => {
    pool.close();
    await stopAll();
    await removeDir(dir);
  });

  function getFile(filename: string, offset: number, count: number, extra: Partial<GetFileRequest> = {}) {
    return callMethod(
      pool.get(endpoint),
      FileService,
      "get_file",
      { readerId, filename, offset: BigInt(offset), count: BigInt(count), ...extra },
      { timeoutMs: 5000 },
    );
  }

  it("GenerateUri: remote://ip:port/reader_id of this server", () => {
    assert.match(uri, new RegExp(`^remote://${endpoint.replace(/\./g, "\\.")}/-?\\d+$`));
    assert.equal(registry.size, 1);
    // The reader keeps its registration: the same URI every time.
    assert.equal(reader.generateUriForCopy(), uri);
  });

  it("MetaFile: __raft_snapshot_meta is the meta file braft's local snapshot stores", async () => {
    const { response, attachment } = await getFile(SNAPSHOT_META_FILE_NAME, 0, 0xffffffff);
    assert.equal(response.eof, true);
    const [segment, ...rest] = decodeSegments(attachment);
    assert.ok(segment);
    assert.equal(rest.length, 0);
    assert.equal(segment.offset, 0);
    assert.equal(Number(response.readSize), segment.data.length);
    // The file on disk is braft's ProtoBufFile: a 4-byte length, then the same message.
    const onDisk = await readFile(join(reader.path, SNAPSHOT_META_FILE_NAME));
    assert.deepEqual(Buffer.from(segment.data), onDisk.subarray(4));
    const table = decodeSnapshotTable(segment.data);
    assert.deepEqual(table.meta, META_AT(42));
    assert.deepEqual([...table.files.keys()], ["small", "sub/nested", "big.bin", "gone"]);
    assert.equal(table.files.get("small")?.checksum, "c-small");
    assert.deepEqual([...(table.files.get("small")?.userMeta ?? [])], [1, 2]);
  });

  it("PartialRead: count bytes at offset, eof exactly at the end", async () => {
    const head = await getFile("small", 0, 3);
    assert.equal(head.response.eof, false);
    assert.equal(head.response.readSize, 3n);
    assert.equal(head.attachment.length, SEGMENT_HEADER_BYTES + 3);
    assert.equal(Buffer.from(decodeSegments(head.attachment)[0]?.data ?? []).toString(), "hel");

    const tail = await getFile("small", 3, 100);
    assert.equal(tail.response.eof, true);
    assert.equal(tail.response.readSize, 2n);
    const [segment] = decodeSegments(tail.attachment);
    assert.equal(segment?.offset, 3);
    assert.equal(Buffer.from(segment?.data ?? []).toString(), "lo");

    const exact = await getFile("small", 0, 5);
    assert.equal(exact.response.eof, true, "braft: eof when offset + count == size");

    const past = await getFile("small", 5, 10);
    assert.equal(past.response.eof, true);
    assert.equal(past.response.readSize, 0n);
    assert.equal(past.attachment.length, 0, "empty reads send no attachment");
  });

  it("PartialRead: a chunk in the middle of a multi-MB file has the right bytes", async () => {
    const offset = 2 * 1024 * 1024 + 5;
    const { response, attachment } = await getFile("big.bin", offset, 128 * 1024);
    assert.equal(response.eof, false);
    const [segment] = decodeSegments(attachment);
    assert.deepEqual(Buffer.from(segment?.data ?? []), patternBytes(seedOf("big.bin"), offset, 128 * 1024));
    const last = await getFile("big.bin", BIG_BYTES - 10, 128 * 1024);
    assert.equal(last.response.eof, true);
    assert.equal(last.response.readSize, 10n);
  });

  it("NestedFile: names with directories are served", async () => {
    const { attachment } = await getFile("sub/nested", 0, 1024);
    assert.equal(Buffer.from(decodeSegments(attachment)[0]?.data ?? []).toString(), "nested file");
  });

  it("UnknownReader: ENOENT", async () => {
    await rejectsWith(getFile("small", 0, 10, { readerId: readerId + 1000n }), "ENOENT");
  });

  it("UnknownFile: not in the file list is EPERM (braft), listed but missing is ENOENT", async () => {
    await rejectsWith(getFile("nope", 0, 10), "EPERM");
    await rejectsWith(getFile("gone", 0, 10), "ENOENT");
  });

  it("BadRequest: count <= 0 or offset < 0 is EINVAL", async () => {
    await rejectsWith(getFile("small", 0, 0), "EINVAL");
    await rejectsWith(getFile("small", -1, 10), "EINVAL");
  });

  it("PathTraversal: names escaping the snapshot directory are refused", async () => {
    for (const name of ["../secret", "../../snap/../secret", "/etc/passwd", "sub/../../secret", "a\0b"]) {
      await rejectsWith(getFile(name, 0, 100), "EINVAL");
    }
  });

  it("PathTraversal: a listed symlink pointing outside the snapshot is refused", async () => {
    const linkDir = await tempDir();
    try {
      const linked = await localSnapshot(join(linkDir, "snap"), 7, [{ name: "ok", content: "x" }]);
      const local = new FileServiceImpl(new FileReaderRegistry({ address: "127.0.0.1:1" }));
      const r = await linked.open();
      assert.ok(r);
      await symlink(join(dir, "secret"), join(r.path, "evil"));
      // A reader whose table lists the symlink (as a state machine could write it).
      const evil: SnapshotReader = {
        listFiles: () => ["ok", "evil"],
        path: r.path,
        loadMeta: () => r.loadMeta(),
        getFileMeta: () => ({}),
        generateUriForCopy: () => "",
      };
      const { readerId: id } = local.registry.registerReader(evil);
      const request = create(GetFileRequestSchema, {
        readerId: id,
        filename: "evil",
        count: 100n,
        offset: 0n,
      });
      await rejectsWith(local.getFile(request), "EINVAL");
      const ok = await local.getFile({ ...request, filename: "ok" });
      assert.equal(ok.readSize, 1n);
      local.registry.close();
    } finally {
      await removeDir(linkDir);
    }
  });

  it("ReadPartly: a count above maxReadBytes is cut with read_partly, EINVAL without", async () => {
    const local = new FileServiceImpl(new FileReaderRegistry({ address: "127.0.0.1:1" }), {
      maxReadBytes: 1000,
    });
    const { readerId: id } = local.registry.registerReader(reader);
    const base = create(GetFileRequestSchema, {
      readerId: id,
      filename: "big.bin",
      count: 4096n,
      offset: 0n,
    });
    const cut = await local.getFile({ ...base, readPartly: true });
    assert.equal(cut.readSize, 1000n);
    assert.equal(cut.eof, false);
    await rejectsWith(local.getFile({ ...base, readPartly: false }), "EINVAL");
    local.registry.close();
  });

  it("Throttled: the leader-side throttle answers EAGAIN when it grants nothing", async () => {
    const clock = new ManualClock();
    const throttle = new ThroughputSnapshotThrottle(10_000, 10, { clock });
    const local = new FileServiceImpl(new FileReaderRegistry({ address: "127.0.0.1:1", clock }), {
      throttle,
      clock,
    });
    const { readerId: id } = local.registry.registerReader(reader);
    const request = create(GetFileRequestSchema, {
      readerId: id,
      filename: "big.bin",
      count: 600n,
      offset: 0n,
    });
    assert.equal((await local.getFile({ ...request, readPartly: true })).readSize, 600n);
    // 400 bytes left in this cycle: fine with read_partly, EAGAIN without.
    await rejectsWith(local.getFile({ ...request, readPartly: false }), "EAGAIN");
    assert.equal((await local.getFile({ ...request, readPartly: true })).readSize, 400n);
    await rejectsWith(local.getFile({ ...request, readPartly: true }), "EAGAIN");
    clock.advance(200);
    assert.equal((await local.getFile({ ...request, readPartly: true })).readSize, 600n);
    local.registry.close();
  });

  it("Release: closing the reader in its storage stops serving it", async () => {
    const second = await storage.open();
    assert.ok(second);
    const secondUri = second.generateUriForCopy();
    assert.notEqual(secondUri, uri, "each reader gets its own id");
    assert.equal(registry.size, 2);
    await storage.closeReader(second);
    assert.equal(registry.size, 1);
    const id = BigInt(secondUri.slice(secondUri.lastIndexOf("/") + 1));
    await rejectsWith(getFile("small", 0, 10, { readerId: id }), "ENOENT");
  });

  it("NoAddress: a registry without an address gives braft's empty URI", () => {
    const none = new FileReaderRegistry({ address: () => "" });
    const registration = none.registerReader(reader);
    assert.equal(registration.uri, "");
    assert.equal(none.size, 0);
    registration.release();
  });
});

describe("FileReaderRegistry expiry", () => {
  const reader: SnapshotReader = {
    path: "/nonexistent",
    listFiles: () => [],
    getFileMeta: () => undefined,
    loadMeta: () => META_AT(1),
    generateUriForCopy: () => "",
  };

  it("ReaderExpiry: a reader unused for idleTimeoutMs is dropped and its owner told", () => {
    const clock = new ManualClock();
    const expired: bigint[] = [];
    const registry = new FileReaderRegistry({
      address: "127.0.0.1:8100",
      idleTimeoutMs: 1000,
      clock,
      onExpired: (_reader, id) => expired.push(id),
    });
    const a = registry.registerReader(reader);
    const b = registry.registerReader(reader);
    clock.advance(900);
    const used = registry.beginUse(b.readerId);
    assert.ok(used);
    registry.endUse(used);
    clock.advance(400); // a: idle 1300 ms, b: idle 400 ms
    assert.deepEqual(expired, [a.readerId]);
    assert.equal(registry.beginUse(a.readerId), undefined);
    assert.equal(registry.size, 1);
    clock.advance(1300);
    assert.deepEqual(expired, [a.readerId, b.readerId]);
    assert.equal(registry.size, 0);
    assert.equal(clock.pendingTimers, 0, "no timer while nothing is registered");
    a.release(); // after expiry: a no-op
  });

  it("ReaderExpiry: a reader with a read in progress is never dropped", () => {
    const clock = new ManualClock();
    const registry = new FileReaderRegistry({ address: "127.0.0.1:8100", idleTimeoutMs: 1000, clock });
    const { readerId } = registry.registerReader(reader);
    const inUse = registry.beginUse(readerId);
    assert.ok(inUse);
    clock.advance(5000);
    assert.equal(registry.size, 1);
    registry.endUse(inUse);
    clock.advance(1250);
    assert.equal(registry.size, 0);
  });

  it("ReaderExpiry: an expired reader answers ENOENT over the wire", async () => {
    const clock = new ManualClock();
    const server = await startServer({ snapshotTransfer: { idleTimeoutMs: 100, clock } });
    const registry = server.snapshotTransfer.registry;
    const { readerId } = registry.registerReader(reader);
    const pool = new ChannelPool();
    const call = () =>
      callMethod(
        pool.get(server.address),
        FileService,
        "get_file",
        { readerId, filename: SNAPSHOT_META_FILE_NAME, offset: 0n, count: 1000n },
        { timeoutMs: 5000 },
      );
    try {
      assert.equal((await call()).response.eof, true);
      clock.advance(200);
      await rejectsWith(call(), "ENOENT");
    } finally {
      pool.close();
      await stopAll();
    }
  });

  it("ReaderIds: braft's scheme, unique and never 0", () => {
    const registry = new FileReaderRegistry({ address: "127.0.0.1:8100", idleTimeoutMs: 0 });
    const ids = new Set<bigint>();
    for (let i = 0; i < 100; i++) ids.add(registry.registerReader(reader).readerId);
    assert.equal(ids.size, 100);
    assert.ok(!ids.has(0n));
    // braft: pid in the bits from 45 up.
    const [first] = ids;
    assert.equal(BigInt.asUintN(64, first ?? 0n) >> 45n, BigInt(process.pid) & ((1n << 19n) - 1n));
  });
});
