/** File-system helpers shared by the local storages: durable writes and error mapping. */
import { constants as fsConstants } from "node:fs";
import { open, rename, rm, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { RaftError } from "../../core/errors.js";

/** Wraps a Node I/O error in a RaftError naming the action and file (ENOSPC kept, else EIO). */
export function ioError(action: string, file: string, cause: unknown): RaftError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const text = cause instanceof Error ? cause.message : String(cause);
  return new RaftError(code === "ENOSPC" ? "ENOSPC" : "EIO", `Fail to ${action} ${file}: ${text}`, { cause });
}

/** True when `err` is Node's "no such file or directory". */
export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Writes all of `buf` at `position`, looping over short writes (e.g. when the disk fills). */
export async function writeFully(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    done += bytesWritten;
  }
}

/** fsync or fdatasync, per braft's raft_use_fsync_rather_than_fdatasync. */
export async function syncFile(fh: FileHandle, useFsync: boolean): Promise<void> {
  if (useFsync) await fh.sync();
  else await fh.datasync();
}

/** Makes renames, creations and deletions inside `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * braft's ProtoBufFile::save: a 4-byte big-endian length then the message, written to
 * `<path>.tmp` and renamed over `path`, so a reader sees the old or the new file, never a torn
 * one. With `sync`, the file and its directory are fsynced so the rename survives power loss.
 */
export async function saveProtoBufFile(path: string, message: Uint8Array, sync: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  const buf = Buffer.allocUnsafe(4 + message.length);
  buf.writeUInt32BE(message.length, 0);
  buf.set(message, 4);
  try {
    const fh = await open(tmp, "w");
    try {
      await writeFully(fh, buf, 0);
      if (sync) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    if (sync) await fsyncDir(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError("save", path, err);
  }
}

/**
 * braft's ProtoBufFile::load. Undefined when the file does not exist; a RaftError EIO naming the
 * file when its length prefix does not match its size.
 */
export async function loadProtoBufFile(path: string): Promise<Uint8Array | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw ioError("open", path, err);
  }
  try {
    const buf = await fh.readFile();
    const len = buf.length >= 4 ? buf.readUInt32BE(0) : -1;
    if (len !== buf.length - 4) {
      throw new RaftError("EIO", `Corrupted file ${path}: length prefix ${len} but ${buf.length} bytes`);
    }
    return buf.subarray(4);
  } catch (err) {
    throw RaftError.is(err) ? err : ioError("read", path, err);
  } finally {
    await fh.close();
  }
}

/** Decodes `bytes` with `decode`, turning a parse failure into a RaftError EIO naming `file`. */
export function decodeFile<T>(file: string, bytes: Uint8Array, decode: (b: Uint8Array) => T): T {
  try {
    return decode(bytes);
  } catch (err) {
    throw new RaftError("EIO", `Corrupted file ${file}: ${(err as Error).message}`, { cause: err });
  }
}
