/**
 * braft's ProtoBufFile (src/braft/protobuf_file.cpp), the format of the counter's snapshot file:
 * a 4-byte big-endian length, then the serialized message. `save` writes `<path>.tmp`, fsyncs it
 * when asked and renames it over `path`, as braft does, so a crash leaves the old or the new file.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { FileOpenFlags, PosixFileSystemAdaptor, type FileSystemAdaptor } from "../../src/index.js";

/** The file's bytes for `message`: length prefix (big-endian uint32) + message. */
export function encodeProtoBufFile(message: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + message.length);
  new DataView(bytes.buffer).setUint32(0, message.length);
  bytes.set(message, 4);
  return bytes;
}

/** The message inside a ProtoBufFile's bytes; throws when the length prefix does not fit. */
export function decodeProtoBufFile(bytes: Uint8Array, what = "ProtoBufFile"): Uint8Array {
  if (bytes.length < 4) throw new Error(`${what}: ${bytes.length} bytes, shorter than the length prefix`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  if (length > bytes.length - 4) {
    throw new Error(`${what}: length prefix ${length} but only ${bytes.length - 4} bytes follow`);
  }
  return bytes.subarray(4, 4 + length);
}

/** True when `fs` is the real file system (or none was given): plain node:fs calls do. */
function isRealFileSystem(fs: FileSystemAdaptor | undefined): boolean {
  return fs === undefined || fs instanceof PosixFileSystemAdaptor;
}

/**
 * Writes `message` to `path` in ProtoBufFile format; with `sync`, durable before it returns.
 * Through `fs` (the snapshot's FileSystemAdaptor) when it is not the real file system.
 */
export async function saveProtoBufFile(
  path: string,
  message: Uint8Array,
  sync: boolean,
  fs?: FileSystemAdaptor,
): Promise<void> {
  const tmp = `${path}.tmp`;
  if (!isRealFileSystem(fs)) return saveThrough(fs as FileSystemAdaptor, path, message, sync);
  try {
    const file = await open(tmp, "w");
    try {
      await file.writeFile(encodeProtoBufFile(message));
      if (sync) await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    if (sync) {
      const dir = await open(dirname(path), "r");
      await dir.sync().finally(() => dir.close());
    }
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Reads the message of the ProtoBufFile at `path` (through `fs` when it is not the real one). */
export async function loadProtoBufFile(path: string, fs?: FileSystemAdaptor): Promise<Uint8Array> {
  if (isRealFileSystem(fs)) return decodeProtoBufFile(await readFile(path), path);
  const file = await (fs as FileSystemAdaptor).open(path, FileOpenFlags.read);
  try {
    return decodeProtoBufFile(await file.read(0, await file.size()), path);
  } finally {
    await file.close();
  }
}

/** The snapshot's file written through its adaptor (one write; the writer is discarded on failure). */
async function saveThrough(
  fs: FileSystemAdaptor,
  path: string,
  message: Uint8Array,
  sync: boolean,
): Promise<void> {
  const file = await fs.open(path, FileOpenFlags.writeNew);
  try {
    await file.write(encodeProtoBufFile(message), 0);
    if (sync) await file.sync();
  } finally {
    await file.close();
  }
}
