/**
 * The files a FileService keeps open between get_file calls. A copy reads one file front to back
 * in many chunks (512 for 64 MiB at 128 KiB); resolving, opening, stat-ing and closing it for each
 * chunk cost twice what the read itself does. So each served reader keeps its current file open,
 * with its size, until the next file is asked for or the reader is dropped. A reference count
 * keeps a handle open while a read on it is running.
 */
import { open, realpath, type FileHandle } from "node:fs/promises";
import { join, sep } from "node:path";
import { RaftError } from "../core/errors.js";
import type { ServedReader } from "./file-reader-registry.js";

/** An open snapshot file and its size (a snapshot's files do not change once it is taken). */
export interface OpenFile {
  readonly name: string;
  readonly ready: Promise<{ readonly fh: FileHandle; readonly size: number }>;
  users: number;
  retired: boolean;
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
  const { fh, size } = await file.ready;
  try {
    const buf = Buffer.allocUnsafe(Math.max(0, Math.min(want, size - offset)));
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got);
      if (bytesRead === 0) break; // The file shrank under us: serve what there is.
      got += bytesRead;
    }
    return { data: buf.subarray(0, got), eof: offset + got >= size || got < buf.length };
  } catch (err) {
    throw new RaftError("EIO", `Fail to read ${file.name}: ${(err as Error).message}`, { cause: err });
  }
}

function closeQuietly(file: OpenFile): void {
  file.ready.then(({ fh }) => fh.close()).catch(() => undefined);
}

/**
 * Opens a listed file after checking that, with symlinks resolved, it is inside the snapshot
 * directory: any peer that reaches this port can call get_file, so it must not become a way to
 * read other files of the machine.
 */
async function openInside(served: ServedReader, name: string): Promise<{ fh: FileHandle; size: number }> {
  const file = join(served.reader.path, name);
  try {
    served.realDir ??= await realpath(served.reader.path);
    const real = await realpath(file);
    if (!real.startsWith(served.realDir + sep)) {
      throw new RaftError("EINVAL", `File "${name}" of reader=${served.id} resolves outside the snapshot`);
    }
    const fh = await open(real, "r");
    try {
      const stats = await fh.stat();
      if (!stats.isFile()) throw new RaftError("EINVAL", `"${name}" of reader=${served.id} is not a file`);
      return { fh, size: stats.size };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  } catch (err) {
    if (RaftError.is(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const message = `Fail to open ${file}: ${(err as Error).message}`;
    throw new RaftError(code === "ENOENT" ? "ENOENT" : "EIO", message, { cause: err });
  }
}
