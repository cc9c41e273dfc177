/**
 * braft's FileService (`braft.FileService.get_file`): serves the files of registered snapshot
 * readers to followers copying a snapshot. Each call reads at most `count` bytes at `offset` of
 * one file through a file handle (never a whole file), and answers with braft's FileSegData in
 * the attachment. `__raft_snapshot_meta` is served as braft's LocalSnapshotPbMeta with each
 * file's `source` cleared (braft's save_to_iobuf_as_remote), whatever storage the reader is from.
 */
import { isAbsolute, normalize, sep } from "node:path";
import { RaftError } from "../core/errors.js";
import { encodeSnapshotTable } from "../storage/local/snapshot-meta-codec.js";
import type { SnapshotFileMeta, SnapshotReader } from "../storage/snapshot-storage.js";
import { encodeSegment } from "./file-seg-data.js";
import {
  FileReaderRegistry,
  type FileReaderRegistryOptions,
  type ServedReader,
} from "./file-reader-registry.js";
import { FileService, type GetFileRequest } from "./gen/braft/file_service_pb.js";
import type { RaftRpcServer } from "./raft-server.js";
import { SnapshotFileHandles, readChunk } from "./snapshot-file-handles.js";
import { realCopyClock, type CopyClock, type SnapshotThrottle } from "./snapshot-throttle.js";

/** braft's BRAFT_SNAPSHOT_META_FILE: the name under which the meta table is served. */
export const SNAPSHOT_META_FILE_NAME = "__raft_snapshot_meta";

/** Options of {@link FileServiceImpl}. */
export interface FileServiceOptions {
  /** The leader-side throttle (braft's snapshot_throttle on the storage); none by default. */
  readonly throttle?: SnapshotThrottle | undefined;
  /**
   * Most bytes one get_file reads. A larger `count` is cut to this with `read_partly` (the reply's
   * read_size tells the copier) and refused with EINVAL without it: a peer must not make this
   * process allocate whatever it asks for. Default 16 MiB, far above braft's 128 KiB requests.
   */
  readonly maxReadBytes?: number | undefined;
  /** The throttle's clock: unused bytes are given back by the time since their grant. */
  readonly clock?: CopyClock | undefined;
}

/** What get_file answers: the response fields and the attachment parts. */
export interface GetFileResult {
  readonly eof: boolean;
  readonly readSize: bigint;
  readonly attachment: Uint8Array[] | undefined;
}

/** Defaults of the server side. */
export const FileServiceDefaults = {
  maxReadBytes: 16 * 1024 * 1024,
} as const;

/** The get_file logic, independent of the transport (a simulator can call it directly). */
export class FileServiceImpl {
  private readonly maxReadBytes: number;
  private readonly clock: CopyClock;
  private readonly handles = new SnapshotFileHandles();

  constructor(
    readonly registry: FileReaderRegistry,
    private readonly options: FileServiceOptions = {},
  ) {
    this.maxReadBytes = options.maxReadBytes ?? FileServiceDefaults.maxReadBytes;
    this.clock = options.clock ?? realCopyClock;
  }

  /** Serves one get_file request; rejects with a RaftError carrying braft's code. */
  async getFile(request: GetFileRequest): Promise<GetFileResult> {
    const served = this.registry.beginUse(request.readerId);
    if (served === undefined) throw new RaftError("ENOENT", `Fail to find reader=${request.readerId}`);
    try {
      if (request.count <= 0n || request.offset < 0n || request.offset > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new RaftError(
          "EINVAL",
          `Invalid request: count=${request.count} offset=${request.offset} filename=${request.filename}`,
        );
      }
      const offset = Number(request.offset);
      if (request.filename === SNAPSHOT_META_FILE_NAME) {
        served.metaBytes ??= encodeRemoteMeta(served.reader);
        const meta = served.metaBytes;
        return { eof: true, readSize: BigInt(meta.length), attachment: encodeSegment(offset, meta) };
      }
      return await this.readListedFile(served, request, offset);
    } finally {
      this.registry.endUse(served);
    }
  }

  private async readListedFile(
    served: ServedReader,
    request: GetFileRequest,
    offset: number,
  ): Promise<GetFileResult> {
    const name = request.filename;
    if (!isInsideName(name))
      throw new RaftError("EINVAL", `Invalid file name "${name}" in reader=${served.id}`);
    // braft answers EPERM for a name that is not in the snapshot's file table.
    if (!served.files.has(name)) throw new RaftError("EPERM", `File "${name}" is not in reader=${served.id}`);
    let want = request.count > BigInt(this.maxReadBytes) ? this.maxReadBytes : Number(request.count);
    if (want < Number(request.count) && !request.readPartly) {
      throw new RaftError("EINVAL", `get_file count=${request.count} exceeds ${this.maxReadBytes}`);
    }
    const throttle = this.options.throttle;
    const startMs = this.clock.nowMs();
    if (throttle !== undefined) {
      const granted = throttle.throttledByThroughput(want);
      if (granted === 0 || (granted < want && !request.readPartly)) {
        throttle.returnUnusedThroughput(granted, 0, this.clock.nowMs() - startMs);
        throw new RaftError("EAGAIN", `Read of ${name} throttled, retry later`);
      }
      want = granted;
    }
    let read: { data: Uint8Array; eof: boolean } | undefined;
    const file = this.handles.acquire(served, name);
    try {
      read = await readChunk(file, offset, want);
      return {
        eof: read.eof,
        readSize: BigInt(read.data.length),
        attachment: read.data.length === 0 ? undefined : encodeSegment(offset, read.data),
      };
    } finally {
      this.handles.release(file);
      const used = read?.data.length ?? 0;
      if (throttle !== undefined && used < want) {
        throttle.returnUnusedThroughput(want, used, this.clock.nowMs() - startMs);
      }
    }
  }
}

/** A relative name that stays inside its directory: no absolute path, no `..`, no NUL. */
export function isInsideName(name: string): boolean {
  if (name === "" || name.includes("\0") || isAbsolute(name)) return false;
  const norm = normalize(name);
  return norm !== ".." && !norm.startsWith(`..${sep}`) && !isAbsolute(norm);
}

/** braft's LocalSnapshotMetaTable::save_to_iobuf_as_remote for any SnapshotReader. */
function encodeRemoteMeta(reader: SnapshotReader): Uint8Array {
  const files = new Map<string, SnapshotFileMeta>();
  for (const name of reader.listFiles()) {
    const meta = reader.getFileMeta(name) ?? {};
    // `source` says how the leader stores the file; the follower's copy is always a local file.
    files.set(name, {
      ...(meta.userMeta === undefined ? {} : { userMeta: meta.userMeta }),
      ...(meta.checksum === undefined ? {} : { checksum: meta.checksum }),
    });
  }
  return encodeSnapshotTable({ meta: reader.loadMeta(), files });
}

/** Options of {@link addFileService}. */
export interface AddFileServiceOptions
  extends FileServiceOptions, Partial<Omit<FileReaderRegistryOptions, "address">> {
  /** The `ip:port` in URIs; by default the server's address once started. */
  readonly address?: FileReaderRegistryOptions["address"] | undefined;
}

/**
 * Serves `braft.FileService` on `server` and returns the registry whose `registrar` a
 * SnapshotStorage takes (`storage.setCopyRegistrar(registry.registrar)`). Once per server:
 * a second call fails with EEXIST, as the method is already served.
 */
export function addFileService(
  server: Pick<RaftRpcServer, "address" | "addService">,
  options: AddFileServiceOptions = {},
): FileReaderRegistry {
  const registry = new FileReaderRegistry({
    ...options,
    address: options.address ?? (() => server.address),
  });
  const impl = new FileServiceImpl(registry, options);
  server.addService(FileService, {
    get_file: async (request, ctx) => {
      const result = await impl.getFile(request);
      ctx.responseAttachment = result.attachment;
      return { eof: result.eof, readSize: result.readSize };
    },
  });
  return registry;
}
