/**
 * braft's FileSystemAdaptor (file_system_adaptor.h): the file system snapshots are read and
 * written through. Every snapshot file tsraft touches (the snapshot meta, the state machine's
 * files when the leader serves them, the files a follower copies in) goes through one, so a user
 * can keep snapshots encrypted, compressed, or somewhere other than the local disk
 * (`NodeOptions.snapshotFileSystemAdaptor`). The default is the real file system
 * ({@link PosixFileSystemAdaptor}).
 *
 * braft's operations, asynchronous: each returns a Promise and fails by rejecting (an Error with
 * Node's `code`, e.g. ENOENT or ENOSPC, keeps that code in the RaftError tsraft makes of it)
 * where braft returns false or -1.
 */
import { constants as fsConstants } from "node:fs";
import * as fsp from "node:fs/promises";
import type { SnapshotFileMeta } from "./snapshot-storage.js";

/**
 * braft's FileAdaptor: one open file. Offsets are explicit (pread/pwrite): tsraft never relies on
 * a file position, and may have one read and the size query of a file in flight at once.
 */
export interface FileAdaptor {
  /** Writes all of `data` at `offset`; resolves with `data.length`. */
  write(data: Uint8Array, offset: number): Promise<number>;
  /** Reads up to `size` bytes at `offset`: fewer only at the end of the file (none past it). */
  read(offset: number, size: number): Promise<Uint8Array>;
  /** The file's size in bytes, as readers see it (the plaintext size for an encrypting adaptor). */
  size(): Promise<number>;
  /** Makes what was written durable (fsync). */
  sync(): Promise<void>;
  /** Releases the file; called once, also after a failed read or write. */
  close(): Promise<void>;
}

/**
 * braft's FileSystemAdaptor. Paths are the ones tsraft builds with `node:path` (the storage's
 * directory joined with `temp`, `snapshot_<index>` and the snapshot's file names); an adaptor
 * that keeps files elsewhere maps them as it likes.
 */
export interface FileSystemAdaptor {
  /**
   * Opens `path` with POSIX open flags from `node:fs` `constants`. tsraft passes `O_RDONLY` to
   * read and `O_WRONLY | O_CREAT | O_TRUNC` to write a file from its start (braft's flags, less
   * O_CLOEXEC). `fileMeta` is the file's entry in the snapshot's file table when tsraft knows it
   * (braft passes it when serving a file to a follower).
   */
  open(path: string, flags: number, fileMeta?: SnapshotFileMeta): Promise<FileAdaptor>;
  /**
   * Deletes a file, or a directory with everything in it when `recursive` (an empty one without).
   * Deleting what does not exist succeeds.
   */
  deleteFile(path: string, recursive: boolean): Promise<void>;
  /** POSIX rename: replaces `newPath` if it is a file or an empty directory. */
  rename(oldPath: string, newPath: string): Promise<void>;
  /** POSIX link: a second name for the same file (used to reuse files of the previous snapshot). */
  link(oldPath: string, newPath: string): Promise<void>;
  /** Creates a directory (and its missing parents when asked); succeeds when it exists. */
  createDirectory(path: string, createParentDirectories: boolean): Promise<void>;
  /** True when something exists at `path`. */
  pathExists(path: string): Promise<boolean>;
  /** True when `path` exists and is a directory. */
  directoryExists(path: string): Promise<boolean>;
  /** The names in a directory, without `.` and `..`, not recursive (braft's directory_reader). */
  directoryReader(path: string): AsyncIterable<string>;
  /**
   * Called before the file service serves the snapshot at `path` to followers; false refuses to
   * serve it. braft's open_snapshot (default: true).
   */
  openSnapshot?(path: string): Promise<boolean> | boolean;
  /** Called once the file service stops serving that snapshot. braft's close_snapshot. */
  closeSnapshot?(path: string): Promise<void> | void;
  /**
   * Beyond braft: makes the creations, renames and deletions inside directory `path` durable.
   * tsraft calls it where a power cut could otherwise lose a finished snapshot; without it, an
   * adaptor's own durability rules apply.
   */
  syncDirectory?(path: string): Promise<void>;
  /**
   * Beyond braft: `path` with symbolic links resolved, when the adaptor has them. The file service
   * serves a file only when its real path stays inside the snapshot's real directory, so a link
   * cannot make it hand out another file of the machine.
   */
  realPath?(path: string): Promise<string>;
}

/** The flags tsraft opens files with, from `node:fs` `constants`. */
export const FileOpenFlags = {
  /** Read an existing file. */
  read: fsConstants.O_RDONLY,
  /** Write a file from its start, creating it or discarding what it held. */
  writeNew: fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC,
} as const;

/** braft's PosixFileAdaptor: a FileHandle. */
class PosixFileAdaptor implements FileAdaptor {
  constructor(private readonly fh: fsp.FileHandle) {}

  async write(data: Uint8Array, offset: number): Promise<number> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, offset + done);
      if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
      done += bytesWritten;
    }
    return data.length;
  }

  async read(offset: number, size: number): Promise<Uint8Array> {
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.fh.read(buf, got, size - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** braft's PosixFileSystemAdaptor over `node:fs/promises`: the default. */
export class PosixFileSystemAdaptor implements FileSystemAdaptor {
  async open(path: string, flags: number): Promise<FileAdaptor> {
    return new PosixFileAdaptor(await fsp.open(path, flags, 0o644));
  }

  async deleteFile(path: string, recursive: boolean): Promise<void> {
    // rm refuses a directory without `recursive`; rmdir is braft's non-recursive delete of one.
    const stats = await fsp.lstat(path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    });
    if (stats === undefined) return;
    if (stats.isDirectory() && !recursive) await fsp.rmdir(path);
    else await fsp.rm(path, { recursive, force: true });
  }

  rename(oldPath: string, newPath: string): Promise<void> {
    return fsp.rename(oldPath, newPath);
  }

  link(oldPath: string, newPath: string): Promise<void> {
    return fsp.link(oldPath, newPath);
  }

  async createDirectory(path: string, createParentDirectories: boolean): Promise<void> {
    try {
      await fsp.mkdir(path, { recursive: createParentDirectories });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !(await this.directoryExists(path))) throw err;
    }
  }

  async pathExists(path: string): Promise<boolean> {
    return (await fsp.lstat(path).catch(() => undefined)) !== undefined;
  }

  async directoryExists(path: string): Promise<boolean> {
    return (await fsp.stat(path).catch(() => undefined))?.isDirectory() === true;
  }

  async *directoryReader(path: string): AsyncIterable<string> {
    for (const name of await fsp.readdir(path)) yield name;
  }

  async syncDirectory(path: string): Promise<void> {
    const fh = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  realPath(path: string): Promise<string> {
    return fsp.realpath(path);
  }
}

const posix = new PosixFileSystemAdaptor();

/** braft's default_file_system(): the one PosixFileSystemAdaptor of the process. */
export function defaultFileSystem(): FileSystemAdaptor {
  return posix;
}

/** Methods an object needs to be taken for a FileSystemAdaptor (NodeOptions validation). */
export const FILE_SYSTEM_ADAPTOR_METHODS = [
  "open",
  "deleteFile",
  "rename",
  "link",
  "createDirectory",
  "pathExists",
  "directoryExists",
  "directoryReader",
] as const;
