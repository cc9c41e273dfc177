/**
 * A FileSystemAdaptor that keeps everything in memory: for tests of state machines and
 * adaptors, and for the simulator, where every operation must complete without real I/O (each
 * resolves in a microtask, so a run stays deterministic). Files are inodes, so `link` gives a
 * second name to the same bytes, as on a real file system. Nothing is lost on a crash: what was
 * written is what a restarted node finds.
 */
import { constants as fsConstants } from "node:fs";
import { posix } from "node:path";
import type { FileAdaptor, FileSystemAdaptor } from "./fs-adaptor.js";

interface Inode {
  data: Uint8Array;
  size: number;
}

type Entry = { readonly kind: "dir" } | { readonly kind: "file"; readonly inode: Inode };

function fsError(code: string, op: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${op} '${path}'`), { code });
}

/** `/a/b/` and `/a//b` are `/a/b`; relative paths count from `/`. */
function norm(path: string): string {
  const p = posix.normalize(posix.isAbsolute(path) ? path : `/${path}`);
  return p.length > 1 && p.endsWith("/") ? p.slice(0, -1) : p;
}

class MemoryFile implements FileAdaptor {
  private closed = false;

  constructor(
    private readonly inode: Inode,
    private readonly readable: boolean,
    private readonly writable: boolean,
    private readonly path: string,
  ) {}

  private check(op: string, allowed: boolean): void {
    if (this.closed) throw fsError("EBADF", op, this.path);
    if (!allowed) throw fsError("EBADF", op, this.path);
  }

  write(data: Uint8Array, offset: number): Promise<number> {
    this.check("write", this.writable);
    const end = offset + data.length;
    if (end > this.inode.data.length) {
      const grown = new Uint8Array(Math.max(end, this.inode.data.length * 2));
      grown.set(this.inode.data.subarray(0, this.inode.size));
      this.inode.data = grown;
    }
    this.inode.data.set(data, offset);
    this.inode.size = Math.max(this.inode.size, end);
    return Promise.resolve(data.length);
  }

  read(offset: number, size: number): Promise<Uint8Array> {
    this.check("read", this.readable);
    const end = Math.min(this.inode.size, offset + size);
    return Promise.resolve(this.inode.data.slice(Math.min(offset, end), end));
  }

  size(): Promise<number> {
    this.check("size", true);
    return Promise.resolve(this.inode.size);
  }

  sync(): Promise<void> {
    this.check("sync", true);
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** An in-memory file system with a root directory `/`. */
export class MemoryFileSystemAdaptor implements FileSystemAdaptor {
  private readonly entries = new Map<string, Entry>([["/", { kind: "dir" }]]);

  async open(path: string, flags: number): Promise<FileAdaptor> {
    const p = norm(path);
    const access = flags & (fsConstants.O_WRONLY | fsConstants.O_RDWR);
    const entry = this.entries.get(p);
    if (entry?.kind === "dir") throw fsError("EISDIR", "open", path);
    if (entry !== undefined && (flags & fsConstants.O_EXCL) !== 0 && (flags & fsConstants.O_CREAT) !== 0)
      throw fsError("EEXIST", "open", path);
    let inode: Inode;
    if (entry === undefined) {
      if ((flags & fsConstants.O_CREAT) === 0) throw fsError("ENOENT", "open", path);
      this.parentDir(p, "open");
      inode = { data: new Uint8Array(0), size: 0 };
      this.entries.set(p, { kind: "file", inode });
    } else {
      inode = entry.inode;
      if ((flags & fsConstants.O_TRUNC) !== 0 && access !== 0) inode.size = 0;
    }
    return new MemoryFile(inode, access !== fsConstants.O_WRONLY, access !== 0, path);
  }

  async deleteFile(path: string, recursive: boolean): Promise<void> {
    const p = norm(path);
    const entry = this.entries.get(p);
    if (entry === undefined) return;
    if (p === "/") throw fsError("EBUSY", "delete", path);
    const inside = this.below(p);
    if (entry.kind === "dir" && inside.length > 0 && !recursive) throw fsError("ENOTEMPTY", "delete", path);
    for (const child of inside) this.entries.delete(child);
    this.entries.delete(p);
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    const from = norm(oldPath);
    const to = norm(newPath);
    const entry = this.entries.get(from);
    if (entry === undefined) throw fsError("ENOENT", "rename", oldPath);
    if (from === to) return;
    if (to.startsWith(`${from}/`)) throw fsError("EINVAL", "rename", newPath);
    this.parentDir(to, "rename");
    const target = this.entries.get(to);
    if (target !== undefined) {
      if (target.kind !== entry.kind)
        throw fsError(target.kind === "dir" ? "EISDIR" : "ENOTDIR", "rename", newPath);
      if (target.kind === "dir" && this.below(to).length > 0) throw fsError("ENOTEMPTY", "rename", newPath);
    }
    const moved = [from, ...this.below(from)];
    const taken = moved.map((p) => [to + p.slice(from.length), this.entries.get(p) as Entry] as const);
    for (const p of moved) this.entries.delete(p);
    for (const [p, e] of taken) this.entries.set(p, e);
  }

  async link(oldPath: string, newPath: string): Promise<void> {
    const entry = this.entries.get(norm(oldPath));
    if (entry === undefined) throw fsError("ENOENT", "link", oldPath);
    if (entry.kind === "dir") throw fsError("EPERM", "link", oldPath);
    const to = norm(newPath);
    if (this.entries.has(to)) throw fsError("EEXIST", "link", newPath);
    this.parentDir(to, "link");
    this.entries.set(to, entry);
  }

  async createDirectory(path: string, createParentDirectories: boolean): Promise<void> {
    const p = norm(path);
    const entry = this.entries.get(p);
    if (entry?.kind === "dir") return;
    if (entry !== undefined) throw fsError("EEXIST", "mkdir", path);
    const parent = posix.dirname(p);
    if (createParentDirectories && !this.entries.has(parent)) await this.createDirectory(parent, true);
    this.parentDir(p, "mkdir");
    this.entries.set(p, { kind: "dir" });
  }

  async pathExists(path: string): Promise<boolean> {
    return this.entries.has(norm(path));
  }

  async directoryExists(path: string): Promise<boolean> {
    return this.entries.get(norm(path))?.kind === "dir";
  }

  async *directoryReader(path: string): AsyncIterable<string> {
    const p = norm(path);
    if (this.entries.get(p)?.kind !== "dir") throw fsError("ENOTDIR", "scandir", path);
    const prefix = p === "/" ? "/" : `${p}/`;
    const names = [...this.entries.keys()]
      .filter((k) => k !== "/" && k.startsWith(prefix) && !k.slice(prefix.length).includes("/"))
      .map((k) => k.slice(prefix.length));
    yield* names;
  }

  /** The bytes of the file at `path` (a copy), or undefined: for tests. */
  readFileSync(path: string): Uint8Array | undefined {
    const entry = this.entries.get(norm(path));
    return entry?.kind === "file" ? entry.inode.data.slice(0, entry.inode.size) : undefined;
  }

  /** Every file path held, sorted: for tests. */
  listFilesSync(): string[] {
    return [...this.entries]
      .filter(([, e]) => e.kind === "file")
      .map(([p]) => p)
      .sort();
  }

  /** Paths strictly inside directory `p`. */
  private below(p: string): string[] {
    const prefix = p === "/" ? "/" : `${p}/`;
    return [...this.entries.keys()].filter((k) => k !== p && k.startsWith(prefix));
  }

  private parentDir(p: string, op: string): void {
    const parent = this.entries.get(posix.dirname(p));
    if (parent === undefined) throw fsError("ENOENT", op, p);
    if (parent.kind !== "dir") throw fsError("ENOTDIR", op, p);
  }
}
