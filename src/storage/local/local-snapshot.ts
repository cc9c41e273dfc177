/** braft's LocalSnapshotWriter / LocalSnapshotReader: a snapshot directory and its file table. */
import { dirname, isAbsolute, join, normalize, sep } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { FileSystemAdaptor } from "../fs-adaptor.js";
import { checkedFileSystem, saveProtoBufFileVia, syncPath } from "../fs-adaptor-checked.js";
import type {
  SnapshotCopyRegistrar,
  SnapshotFileMeta,
  SnapshotMeta,
  SnapshotReader,
  SnapshotWriter,
} from "../snapshot-storage.js";
import { encodeSnapshotTable, type SnapshotTable } from "./snapshot-meta-codec.js";

/** braft's BRAFT_SNAPSHOT_META_FILE. */
export const SNAPSHOT_META_FILE = "__raft_snapshot_meta";

/** Writes into the storage's temp directory; the storage moves it into place on close. */
export class LocalSnapshotWriter implements SnapshotWriter {
  private meta: SnapshotMeta | undefined;
  private readonly files = new Map<string, SnapshotFileMeta>();
  private failure: Error | undefined;

  constructor(
    readonly path: string,
    readonly fileSystem: FileSystemAdaptor,
  ) {}

  get error(): Error | undefined {
    return this.failure;
  }

  /** The meta given to saveMeta, if any. */
  get savedMeta(): SnapshotMeta | undefined {
    return this.meta;
  }

  saveMeta(meta: SnapshotMeta): void {
    if (!Number.isSafeInteger(meta.lastIncludedIndex) || meta.lastIncludedIndex < 1) {
      throw new RaftError("EINVAL", `invalid snapshot index ${meta.lastIncludedIndex}`);
    }
    this.meta = { ...meta, peers: [...meta.peers] };
  }

  addFile(name: string, meta: SnapshotFileMeta = {}): void {
    this.files.set(checkFileName(name), meta);
  }

  removeFile(name: string): void {
    this.files.delete(name);
  }

  listFiles(): string[] {
    return [...this.files.keys()];
  }

  getFileMeta(name: string): SnapshotFileMeta | undefined {
    return this.files.get(name);
  }

  setError(error: Error): void {
    this.failure ??= error;
  }

  /**
   * Makes the snapshot durable: with `sync`, every listed file and directory is fsynced before the
   * meta file is written, so a meta file on disk always describes files that are there.
   */
  async sync(sync: boolean, syncMeta: boolean): Promise<void> {
    const fs = checkedFileSystem(this.fileSystem);
    if (sync) {
      const dirs = new Set<string>([this.path]);
      for (const name of this.files.keys()) {
        const file = join(this.path, name);
        await syncPath(fs, file);
        dirs.add(dirname(file));
      }
      for (const dir of dirs) await fs.syncDirectory(dir);
    }
    const table: SnapshotTable = { meta: this.meta, files: this.files };
    await saveProtoBufFileVia(fs, join(this.path, SNAPSHOT_META_FILE), encodeSnapshotTable(table), syncMeta);
  }
}

/** Reads a completed snapshot; the storage keeps its directory alive until the reader is closed. */
export class LocalSnapshotReader implements SnapshotReader {
  private copy: { uri: string; release(): void } | undefined;

  constructor(
    readonly path: string,
    private readonly meta: SnapshotMeta,
    private readonly files: ReadonlyMap<string, SnapshotFileMeta>,
    private readonly registrar: SnapshotCopyRegistrar | undefined,
    readonly fileSystem: FileSystemAdaptor,
  ) {}

  get index(): number {
    return this.meta.lastIncludedIndex;
  }

  loadMeta(): SnapshotMeta {
    return this.meta;
  }

  listFiles(): string[] {
    return [...this.files.keys()];
  }

  getFileMeta(name: string): SnapshotFileMeta | undefined {
    return this.files.get(name);
  }

  generateUriForCopy(): string {
    if (this.registrar === undefined) return "";
    this.copy ??= this.registrar(this);
    return this.copy.uri;
  }

  /** Unregisters from the file service (called by the storage when the reader is closed). */
  release(): void {
    this.copy?.release();
    this.copy = undefined;
  }
}

/** Snapshot files are named relative to the snapshot directory and stay inside it. */
function checkFileName(name: string): string {
  const norm = normalize(name);
  if (
    name === "" ||
    isAbsolute(name) ||
    norm === ".." ||
    norm.startsWith(`..${sep}`) ||
    norm === SNAPSHOT_META_FILE
  ) {
    throw new RaftError("EINVAL", `invalid snapshot file name "${name}"`);
  }
  return name;
}
