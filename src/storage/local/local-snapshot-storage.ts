/**
 * braft's LocalSnapshotStorage: `snapshot_<index>` directories (20-digit index) under the storage
 * path, each with a `__raft_snapshot_meta` file. A writer fills the `temp` directory, which is
 * renamed into place when it is closed; readers hold a reference so a snapshot being loaded or
 * copied is deleted only when the last of them lets go.
 */
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import { PosixFileSystemAdaptor, defaultFileSystem, type FileSystemAdaptor } from "../fs-adaptor.js";
import { checkedFileSystem, loadProtoBufFileVia, type CheckedFileSystem } from "../fs-adaptor-checked.js";
import type {
  SnapshotCopyRegistrar,
  SnapshotReader,
  SnapshotStorage,
  SnapshotWriter,
} from "../snapshot-storage.js";
import { decodeFile } from "./fs-util.js";
import { LocalSnapshotReader, LocalSnapshotWriter, SNAPSHOT_META_FILE } from "./local-snapshot.js";
import { resolveLocalOptions, type LocalStorageOptions, type ResolvedLocalOptions } from "./options.js";
import { decodeSnapshotTable } from "./snapshot-meta-codec.js";
import { openStorageDirectory, type StorageDirectory } from "./storage-dir.js";

/** braft's temp directory name. */
export const SNAPSHOT_TEMP_DIR = "temp";
const SNAPSHOT_DIR_RE = /^snapshot_(\d{20})$/;

/** braft's BRAFT_SNAPSHOT_PATTERN. */
export function snapshotDirName(index: number): string {
  return `snapshot_${String(index).padStart(20, "0")}`;
}

export class LocalSnapshotStorage implements SnapshotStorage {
  private readonly opts: ResolvedLocalOptions;
  /** Index of the newest complete snapshot; 0 when there is none. */
  private lastIndex = 0;
  /** References per snapshot index: the storage holds one on the newest, each reader one. */
  private readonly refs = new Map<number, number>();
  private writer: LocalSnapshotWriter | undefined;
  private registrar: SnapshotCopyRegistrar | undefined;
  private readonly readers = new Set<LocalSnapshotReader>();
  /** The locked directory, from init to close. */
  private directory: StorageDirectory | undefined;
  /** Where the snapshots live (braft's _fs): the real file system unless an adaptor was set. */
  private fileSystem: FileSystemAdaptor = defaultFileSystem();
  private fs: CheckedFileSystem = checkedFileSystem(this.fileSystem);

  /** @param path the directory holding the snapshots (braft's snapshot_uri path). */
  constructor(
    readonly path: string,
    options: LocalStorageOptions = {},
  ) {
    this.opts = resolveLocalOptions(options);
  }

  /**
   * braft's set_file_system_adaptor; before `init`. With an adaptor other than the real file
   * system the directory is created through it and not locked: tsraft cannot tell where the
   * adaptor keeps its files, so keeping other processes out of them is the adaptor's part.
   */
  setFileSystemAdaptor(fs: FileSystemAdaptor): void {
    if (this.directory !== undefined)
      throw new RaftError("EINVAL", `set the file system adaptor of ${this.path} before init`);
    this.fileSystem = fs;
    this.fs = checkedFileSystem(fs);
  }

  async init(): Promise<void> {
    const directory = await this.openDirectory();
    try {
      await this.recover();
    } catch (error) {
      await directory.release();
      throw error;
    }
    this.directory = directory;
  }

  private async openDirectory(): Promise<StorageDirectory> {
    // The real file system, even in an instance of the user's: lock it as every local storage.
    if (this.fileSystem instanceof PosixFileSystemAdaptor)
      return openStorageDirectory(this.path, "snapshot", this.opts);
    await this.fs.createDirectory(this.path, this.opts.createParentDirectories);
    return { release: () => Promise.resolve() };
  }

  /** Releases the directory lock; snapshots still open keep their files until closed. Idempotent. */
  async close(): Promise<void> {
    await this.directory?.release();
    this.directory = undefined;
  }

  /** Removes what a crash may leave (the temp directory, superseded snapshots); finds the newest. */
  private async recover(): Promise<void> {
    await this.removeDir(SNAPSHOT_TEMP_DIR);
    const names = await this.fs.readDirectory(this.path);
    const indexes = names
      .map((name) => SNAPSHOT_DIR_RE.exec(name)?.[1])
      .filter((digits): digits is string => digits !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    this.lastIndex = indexes.pop() ?? 0;
    // Only the newest snapshot is ever needed; older ones are leftovers of a crash.
    for (const index of indexes) await this.removeDir(snapshotDirName(index));
    if (this.lastIndex > 0) this.refs.set(this.lastIndex, 1);
  }

  async create(): Promise<SnapshotWriter> {
    if (this.writer !== undefined)
      throw new RaftError("EBUSY", `a snapshot is already being written in ${this.path}`);
    const dir = join(this.path, SNAPSHOT_TEMP_DIR);
    await this.removeDir(SNAPSHOT_TEMP_DIR);
    await this.fs.createDirectory(dir, false);
    this.writer = new LocalSnapshotWriter(dir, this.fileSystem);
    return this.writer;
  }

  async closeWriter(writer: SnapshotWriter): Promise<void> {
    if (writer !== this.writer)
      throw new RaftError("EINVAL", "this writer does not belong to this snapshot storage");
    this.writer = undefined;
    const meta = (writer as LocalSnapshotWriter).savedMeta;
    const problem = writer.error ?? checkNewIndex(meta?.lastIncludedIndex, this.lastIndex);
    if (problem !== undefined || meta === undefined) {
      await this.removeDir(SNAPSHOT_TEMP_DIR);
      throw toRaftError(problem ?? new RaftError("EINVAL", "snapshot writer closed without saveMeta"));
    }
    const index = meta.lastIncludedIndex;
    const target = join(this.path, snapshotDirName(index));
    try {
      await (writer as LocalSnapshotWriter).sync(this.opts.sync, this.opts.syncMeta);
      await this.fs.rename(writer.path, target);
      if (this.opts.syncMeta) await this.fs.syncDirectory(this.path);
    } catch (err) {
      await this.removeDir(SNAPSHOT_TEMP_DIR).catch(() => undefined);
      throw toRaftError(err);
    }
    const previous = this.lastIndex;
    this.lastIndex = index;
    this.ref(index);
    await this.unref(previous);
  }

  async open(): Promise<SnapshotReader | undefined> {
    const index = this.lastIndex;
    if (index === 0) return undefined;
    this.ref(index);
    try {
      const dir = join(this.path, snapshotDirName(index));
      const file = join(dir, SNAPSHOT_META_FILE);
      const bytes = await loadProtoBufFileVia(this.fs, file);
      if (bytes === undefined) throw new RaftError("EIO", `Fail to open snapshot: ${file} is missing`);
      const table = decodeFile(file, bytes, decodeSnapshotTable);
      if (table.meta === undefined) throw new RaftError("EIO", `Corrupted file ${file}: no snapshot meta`);
      const reader = new LocalSnapshotReader(dir, table.meta, table.files, this.registrar, this.fileSystem);
      this.readers.add(reader);
      return reader;
    } catch (err) {
      await this.unref(index);
      throw err;
    }
  }

  async closeReader(reader: SnapshotReader): Promise<void> {
    if (!(reader instanceof LocalSnapshotReader) || !this.readers.delete(reader)) return;
    reader.release();
    await this.unref(reader.index);
  }

  setCopyRegistrar(registrar: SnapshotCopyRegistrar | undefined): void {
    this.registrar = registrar;
  }

  private ref(index: number): void {
    this.refs.set(index, (this.refs.get(index) ?? 0) + 1);
  }

  /** Drops one reference; the last one of a superseded snapshot deletes its directory. */
  private async unref(index: number): Promise<void> {
    if (index === 0) return;
    const left = (this.refs.get(index) ?? 1) - 1;
    if (left > 0) {
      this.refs.set(index, left);
      return;
    }
    this.refs.delete(index);
    if (index !== this.lastIndex) await this.removeDir(snapshotDirName(index));
  }

  private removeDir(name: string): Promise<void> {
    return this.fs.deleteFile(join(this.path, name), true);
  }
}

/** braft refuses to close a snapshot over an existing one of the same index (EEXIST). */
function checkNewIndex(index: number | undefined, lastIndex: number): RaftError | undefined {
  if (index === undefined) return undefined;
  if (index === lastIndex) return new RaftError("EEXIST", `snapshot ${index} already exists`);
  if (index < lastIndex)
    return new RaftError("ESTALE", `snapshot ${index} is older than snapshot ${lastIndex}`);
  return undefined;
}

function toRaftError(err: unknown): RaftError {
  if (RaftError.is(err)) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new RaftError("EIO", `snapshot writer failed: ${text}`, { cause: err });
}
