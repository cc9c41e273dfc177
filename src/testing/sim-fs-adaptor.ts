/**
 * A simulated process's snapshot file system (`SimClusterOptions.snapshots.fileSystem`): the
 * process keeps one FileSystemAdaptor across its crashes, as it keeps its SimDisk, and each
 * incarnation reaches it through a gate on that incarnation's Env. Every call waits for a timer
 * of the incarnation, so calls take virtual time and a crashed incarnation's calls never
 * complete: a dead node cannot write into the files of its successor.
 */
import type { Env } from "../env/env.js";
import type { FileAdaptor, FileSystemAdaptor } from "../storage/fs-adaptor.js";
import type { SnapshotFileMeta } from "../storage/snapshot-storage.js";

/** Virtual time each file system call takes. */
const CALL_LATENCY_MS = 0.1;

/** Resolves after the call latency, on `env`'s timers; never when `env` is dead. */
function gate(env: Env): Promise<void> {
  return new Promise((resolve) => env.setTimer(resolve, CALL_LATENCY_MS));
}

async function gated<T>(env: Env, op: () => Promise<T>): Promise<T> {
  await gate(env);
  const result = await op();
  await gate(env);
  return result;
}

class GatedFile implements FileAdaptor {
  constructor(
    private readonly env: Env,
    private readonly file: FileAdaptor,
  ) {}
  write(data: Uint8Array, offset: number): Promise<number> {
    return gated(this.env, () => this.file.write(data, offset));
  }
  read(offset: number, size: number): Promise<Uint8Array> {
    return gated(this.env, () => this.file.read(offset, size));
  }
  size(): Promise<number> {
    return gated(this.env, () => this.file.size());
  }
  sync(): Promise<void> {
    return gated(this.env, () => this.file.sync());
  }
  close(): Promise<void> {
    return gated(this.env, () => this.file.close());
  }
}

/** `inner` as one incarnation (`env`) of a simulated process sees it. */
export class SimFileSystemAdaptor implements FileSystemAdaptor {
  constructor(
    /** The process's file system, shared by its incarnations. */
    readonly inner: FileSystemAdaptor,
    private readonly env: Env,
  ) {}

  async open(path: string, flags: number, fileMeta?: SnapshotFileMeta): Promise<FileAdaptor> {
    return new GatedFile(this.env, await gated(this.env, () => this.inner.open(path, flags, fileMeta)));
  }
  deleteFile(path: string, recursive: boolean): Promise<void> {
    return gated(this.env, () => this.inner.deleteFile(path, recursive));
  }
  rename(oldPath: string, newPath: string): Promise<void> {
    return gated(this.env, () => this.inner.rename(oldPath, newPath));
  }
  link(oldPath: string, newPath: string): Promise<void> {
    return gated(this.env, () => this.inner.link(oldPath, newPath));
  }
  createDirectory(path: string, createParentDirectories: boolean): Promise<void> {
    return gated(this.env, () => this.inner.createDirectory(path, createParentDirectories));
  }
  pathExists(path: string): Promise<boolean> {
    return gated(this.env, () => this.inner.pathExists(path));
  }
  directoryExists(path: string): Promise<boolean> {
    return gated(this.env, () => this.inner.directoryExists(path));
  }
  async *directoryReader(path: string): AsyncIterable<string> {
    await gate(this.env);
    const names: string[] = [];
    for await (const name of this.inner.directoryReader(path)) names.push(name);
    await gate(this.env);
    yield* names;
  }
}

/** The process-wide file system behind `fs`, when it is an incarnation's gate. */
export function ungated(fs: FileSystemAdaptor): FileSystemAdaptor {
  return fs instanceof SimFileSystemAdaptor ? fs.inner : fs;
}
