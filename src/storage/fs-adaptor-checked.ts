/**
 * A FileSystemAdaptor as tsraft calls it: a user's adaptor is code tsraft does not control, so
 * every call goes through a wrapper that turns whatever it throws (an Error, a string, a
 * synchronous throw) into a RaftError naming the operation, the path and the adaptor, and refuses
 * answers that break the contract (a read longer than asked, a size that is not a byte count).
 * Also the whole-file helpers the snapshot code needs, written once over any adaptor.
 */
import { dirname } from "node:path";
import { RaftError, type ErrorCode } from "../core/errors.js";
import {
  FileOpenFlags,
  PosixFileSystemAdaptor,
  type FileAdaptor,
  type FileSystemAdaptor,
} from "./fs-adaptor.js";
import type { SnapshotFileMeta } from "./snapshot-storage.js";

/** Error codes of an adaptor's failure that keep their meaning; any other becomes EIO. */
const KEPT_CODES: ReadonlySet<string> = new Set(["ENOENT", "ENOSPC", "EACCES", "EEXIST"]);

function adaptorName(fs: FileSystemAdaptor): string {
  if (fs instanceof PosixFileSystemAdaptor) return "";
  const name = (fs as { constructor?: { name?: unknown } }).constructor?.name;
  return ` (FileSystemAdaptor ${typeof name === "string" && name !== "Object" ? name : "of the user"})`;
}

/** The RaftError for a failed adaptor call: a RaftError thrown by the adaptor is kept as it is. */
export function adaptorError(fs: FileSystemAdaptor, action: string, path: string, cause: unknown): RaftError {
  if (RaftError.is(cause)) return cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  const kept: ErrorCode = typeof code === "string" && KEPT_CODES.has(code) ? (code as ErrorCode) : "EIO";
  const text = cause instanceof Error ? cause.message : String(cause);
  return new RaftError(kept, `Fail to ${action} ${path}${adaptorName(fs)}: ${text}`, { cause });
}

/** Runs one adaptor call; its failure, thrown or rejected, becomes {@link adaptorError}. */
async function call<T>(
  fs: FileSystemAdaptor,
  action: string,
  path: string,
  op: () => T | Promise<T>,
): Promise<T> {
  try {
    return await op();
  } catch (err) {
    throw adaptorError(fs, action, path, err);
  }
}

function broken(fs: FileSystemAdaptor, action: string, path: string, what: string): RaftError {
  return new RaftError("EIO", `Fail to ${action} ${path}${adaptorName(fs)}: ${what}`);
}

/** A FileAdaptor whose failures and contract breaches are RaftErrors. */
class CheckedFile implements FileAdaptor {
  constructor(
    private readonly fs: FileSystemAdaptor,
    private readonly file: FileAdaptor,
    readonly path: string,
  ) {}

  async write(data: Uint8Array, offset: number): Promise<number> {
    const n = await call(this.fs, "write", this.path, () => this.file.write(data, offset));
    if (n !== data.length)
      throw broken(this.fs, "write", this.path, `wrote ${String(n)} of ${data.length} bytes`);
    return n;
  }

  async read(offset: number, size: number): Promise<Uint8Array> {
    const data = await call(this.fs, "read", this.path, () => this.file.read(offset, size));
    if (!(data instanceof Uint8Array) || data.length > size)
      throw broken(this.fs, "read", this.path, `read answered ${describe(data)} for ${size} bytes`);
    return data;
  }

  async size(): Promise<number> {
    const size = await call(this.fs, "stat", this.path, () => this.file.size());
    if (!Number.isSafeInteger(size) || size < 0)
      throw broken(this.fs, "stat", this.path, `size answered ${describe(size)}`);
    return size;
  }

  sync(): Promise<void> {
    return call(this.fs, "sync", this.path, () => this.file.sync());
  }

  close(): Promise<void> {
    return call(this.fs, "close", this.path, () => this.file.close());
  }
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
}

/** Wraps `inner` so that every call fails only with a RaftError. */
export class CheckedFileSystem implements FileSystemAdaptor {
  constructor(readonly inner: FileSystemAdaptor) {}

  async open(path: string, flags: number, fileMeta?: SnapshotFileMeta): Promise<CheckedFile> {
    const file = await call(this.inner, "open", path, () => this.inner.open(path, flags, fileMeta));
    for (const method of ["write", "read", "size", "sync", "close"] as const) {
      if (typeof (file as Partial<FileAdaptor> | undefined)?.[method] !== "function")
        throw broken(this.inner, "open", path, `open answered no FileAdaptor (no ${method}())`);
    }
    return new CheckedFile(this.inner, file, path);
  }

  deleteFile(path: string, recursive: boolean): Promise<void> {
    return call(this.inner, "delete", path, () => this.inner.deleteFile(path, recursive));
  }

  rename(oldPath: string, newPath: string): Promise<void> {
    return call(this.inner, `rename to ${newPath}`, oldPath, () => this.inner.rename(oldPath, newPath));
  }

  link(oldPath: string, newPath: string): Promise<void> {
    return call(this.inner, `link to ${newPath}`, oldPath, () => this.inner.link(oldPath, newPath));
  }

  createDirectory(path: string, createParentDirectories: boolean): Promise<void> {
    return call(this.inner, "create directory", path, () =>
      this.inner.createDirectory(path, createParentDirectories),
    );
  }

  async pathExists(path: string): Promise<boolean> {
    return (await call(this.inner, "check", path, () => this.inner.pathExists(path))) === true;
  }

  async directoryExists(path: string): Promise<boolean> {
    return (await call(this.inner, "check directory", path, () => this.inner.directoryExists(path))) === true;
  }

  async *directoryReader(path: string): AsyncIterable<string> {
    yield* await this.readDirectory(path);
  }

  /** Every name `directoryReader` yields, checked to be names. */
  async readDirectory(path: string): Promise<string[]> {
    return call(this.inner, "list", path, async () => {
      const names: string[] = [];
      for await (const name of this.inner.directoryReader(path)) {
        if (typeof name !== "string") throw new Error(`directoryReader yielded ${describe(name)}`);
        if (name !== "." && name !== "..") names.push(name);
      }
      return names;
    });
  }

  async openSnapshot(path: string): Promise<boolean> {
    const open = this.inner.openSnapshot;
    if (open === undefined) return true;
    return (await call(this.inner, "open snapshot", path, () => open.call(this.inner, path))) !== false;
  }

  async closeSnapshot(path: string): Promise<void> {
    const close = this.inner.closeSnapshot;
    if (close !== undefined)
      await call(this.inner, "close snapshot", path, () => close.call(this.inner, path));
  }

  /** Syncs the directory when the adaptor can; a no-op otherwise. */
  async syncDirectory(path: string): Promise<void> {
    const sync = this.inner.syncDirectory;
    if (sync !== undefined) await call(this.inner, "sync directory", path, () => sync.call(this.inner, path));
  }

  /** `path` with links resolved, or undefined when the adaptor has no links. */
  async resolvedPath(path: string): Promise<string | undefined> {
    const real = this.inner.realPath;
    if (real === undefined) return undefined;
    return call(this.inner, "resolve", path, () => real.call(this.inner, path));
  }
}

const checkedOf = new WeakMap<FileSystemAdaptor, CheckedFileSystem>();

/** The checked form of `fs` (one per adaptor; a checked adaptor is its own). */
export function checkedFileSystem(fs: FileSystemAdaptor): CheckedFileSystem {
  if (fs instanceof CheckedFileSystem) return fs;
  let checked = checkedOf.get(fs);
  if (checked === undefined) {
    checked = new CheckedFileSystem(fs);
    checkedOf.set(fs, checked);
  }
  return checked;
}

/** Runs `use` on `path` opened with `flags`, and closes the file whatever happens. */
export async function withFile<T>(
  fs: CheckedFileSystem,
  path: string,
  flags: number,
  use: (file: FileAdaptor) => Promise<T>,
  fileMeta?: SnapshotFileMeta,
): Promise<T> {
  const file = await fs.open(path, flags, fileMeta);
  let result: T;
  try {
    result = await use(file);
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
  await file.close();
  return result;
}

/** The whole content of `path`. */
export function readWholeFile(fs: CheckedFileSystem, path: string): Promise<Uint8Array> {
  return withFile(fs, path, FileOpenFlags.read, async (file) => {
    const size = await file.size();
    const data = await file.read(0, size);
    if (data.length !== size)
      throw new RaftError("EIO", `Fail to read ${path}: ${data.length} of ${size} bytes`);
    return data;
  });
}

/** fsyncs the file at `path`. */
export function syncPath(fs: CheckedFileSystem, path: string): Promise<void> {
  return withFile(fs, path, FileOpenFlags.read, (file) => file.sync());
}

/** Copies `source` to `dest` through the adaptor, 1 MiB at a time. */
export function copyWholeFile(fs: CheckedFileSystem, source: string, dest: string): Promise<void> {
  const chunk = 1024 * 1024;
  return withFile(fs, source, FileOpenFlags.read, (input) =>
    withFile(fs, dest, FileOpenFlags.writeNew, async (output) => {
      for (let offset = 0; ;) {
        const data = await input.read(offset, chunk);
        if (data.length > 0) await output.write(data, offset);
        offset += data.length;
        if (data.length < chunk) return;
      }
    }),
  );
}

/**
 * braft's ProtoBufFile::save through an adaptor: a 4-byte big-endian length then the message,
 * written to `<path>.tmp` and renamed over `path`, so a reader sees the old or the new file.
 * With `sync`, the file and (when the adaptor can) its directory are synced.
 */
export async function saveProtoBufFileVia(
  fs: CheckedFileSystem,
  path: string,
  message: Uint8Array,
  sync: boolean,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const buf = Buffer.allocUnsafe(4 + message.length);
  buf.writeUInt32BE(message.length, 0);
  buf.set(message, 4);
  try {
    await withFile(fs, tmp, FileOpenFlags.writeNew, async (file) => {
      await file.write(buf, 0);
      if (sync) await file.sync();
    });
    await fs.rename(tmp, path);
    if (sync) await fs.syncDirectory(dirname(path));
  } catch (err) {
    await fs.deleteFile(tmp, false).catch(() => undefined);
    throw err;
  }
}

/**
 * braft's ProtoBufFile::load through an adaptor. Undefined when the file does not exist; EIO
 * naming the file when its length prefix does not match its size.
 */
export async function loadProtoBufFileVia(
  fs: CheckedFileSystem,
  path: string,
): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readWholeFile(fs, path);
  } catch (err) {
    if (RaftError.is(err) && err.code === "ENOENT") return undefined;
    throw err;
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const len = buf.length >= 4 ? buf.readUInt32BE(0) : -1;
  if (len !== buf.length - 4) {
    throw new RaftError("EIO", `Corrupted file ${path}: length prefix ${len} but ${buf.length} bytes`);
  }
  return buf.subarray(4);
}
