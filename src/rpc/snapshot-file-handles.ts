/**
 * The files a FileService keeps open between get_file calls. A copy reads one file front to back
 * in many chunks (512 for 64 MiB at 128 KiB); resolving, opening, stat-ing and closing it for each
 * chunk cost twice what the read itself does. So each served reader keeps its current file open,
 * with its size, until the next file is asked for or the reader is dropped. A reference count
 * keeps a handle open while a read on it is running.
 */
import { join, sep } from "node:path";
import { RaftError } from "../core/errors.js";
import { defaultFileSystem, FileOpenFlags, type FileAdaptor } from "../storage/fs-adaptor.js";
import { checkedFileSystem, type CheckedFileSystem } from "../storage/fs-adaptor-checked.js";
import type { ServedReader } from "./file-reader-registry.js";

/** An open snapshot file and its size (a snapshot's files do not change once it is taken). */
export interface OpenFile {
  readonly name: string;
  readonly ready: Promise<{ readonly file: FileAdaptor; readonly size: number }>;
  users: number;
  retired: boolean;
}

/** The checked file system a served reader's files are read through. */
function fileSystemOf(served: ServedReader): CheckedFileSystem {
  return checkedFileSystem(served.reader.fileSystem ?? defaultFileSystem());
}

/** One open file per served reader. */
export class SnapshotFileHandles {
  private readonly current = new WeakMap<ServedReader, OpenFile>();

  /** The open file `name` of `served`, opened if needed; give it back with {@link release}. */
  acquire(served: ServedReader, name: string): OpenFile {
    const cached = this.current.get(served);
    if (cached !== undefined && cached.name === name && !cached.retired) {
      cached.users++;
      return cached;
    }
    if (cached !== undefined) this.drop(served, cached);
    const ready = openInside(served, name);
    const file: OpenFile = { name, ready, users: 1, retired: false };
    // A failed open is not cached: the next request tries again.
    ready.catch(() => this.drop(served, file));
    this.current.set(served, file);
    served.onRemoved = () => {
      const open = this.current.get(served);
      if (open !== undefined) this.drop(served, open);
      void closeSnapshot(served);
    };
    return file;
  }

  /** Ends a use begun by {@link acquire}; the last user of a retired file closes it. */
  release(file: OpenFile): void {
    file.users--;
    if (file.retired && file.users === 0) closeQuietly(file);
  }

  private drop(served: ServedReader, file: OpenFile): void {
    if (this.current.get(served) === file) this.current.delete(served);
    if (file.retired) return;
    file.retired = true;
    if (file.users === 0) closeQuietly(file);
  }
}

/** Reads up to `want` bytes at `offset`; eof once the end of the file is reached (braft's rule). */
export async function readChunk(
  file: OpenFile,
  offset: number,
  want: number,
): Promise<{ data: Uint8Array; eof: boolean }> {
  const { file: handle, size } = await file.ready;
  const data = await handle.read(offset, Math.max(0, Math.min(want, size - offset)));
  // A file that shrank under us serves what there is.
  return { data, eof: offset + data.length >= size || data.length < Math.min(want, size - offset) };
}

function closeQuietly(file: OpenFile): void {
  file.ready.then(({ file: handle }) => handle.close()).catch(() => undefined);
}

/**
 * braft's open_snapshot, once per served reader before its first file: an adaptor may refuse to
 * serve the snapshot (or prepare it, e.g. fetch it from remote storage).
 */
async function openSnapshot(served: ServedReader): Promise<void> {
  if (served.snapshotOpened === undefined) {
    const opening = fileSystemOf(served).openSnapshot(served.reader.path);
    served.snapshotOpened = opening;
    // A failed call is asked again by the next request; a "no" stands for the reader's life.
    opening.catch(() => {
      if (served.snapshotOpened === opening) served.snapshotOpened = undefined;
    });
  }
  if (!(await served.snapshotOpened))
    throw new RaftError(
      "EIO",
      `Open snapshot=${served.reader.path} failed: its FileSystemAdaptor refused it`,
    );
}

/** braft's close_snapshot, when the reader stops being served, if it was opened. */
async function closeSnapshot(served: ServedReader): Promise<void> {
  const opened = served.snapshotOpened;
  if (opened === undefined || !(await opened.catch(() => false))) return;
  await fileSystemOf(served)
    .closeSnapshot(served.reader.path)
    .catch(() => undefined);
}

/**
 * Opens a listed file through the reader's file system. When that file system has links
 * (realPath), the file must resolve inside the snapshot directory: any peer that reaches this
 * port can call get_file, so it must not become a way to read other files of the machine.
 */
async function openInside(served: ServedReader, name: string): Promise<{ file: FileAdaptor; size: number }> {
  await openSnapshot(served);
  const fs = fileSystemOf(served);
  let path = join(served.reader.path, name);
  served.realDir ??= await fs.resolvedPath(served.reader.path);
  if (served.realDir !== undefined) {
    const real = await fs.resolvedPath(path);
    if (real === undefined || !real.startsWith(served.realDir + sep)) {
      throw new RaftError("EINVAL", `File "${name}" of reader=${served.id} resolves outside the snapshot`);
    }
    path = real;
  }
  if (await fs.directoryExists(path))
    throw new RaftError("EINVAL", `"${name}" of reader=${served.id} is not a file`);
  const file = await fs.open(path, FileOpenFlags.read, served.reader.getFileMeta(name));
  try {
    return { file, size: await file.size() };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}
