/**
 * Fault and call-count injection into Node's FileHandle (what fs/promises returns): lets tests
 * fail a write or an fsync the way a full or broken disk does, and count the syscalls a storage
 * makes, without a special file system.
 */
import { open, type FileHandle } from "node:fs/promises";

export type HandleMethod = "write" | "writev" | "sync" | "datasync" | "truncate";
type Method = (...args: unknown[]) => Promise<unknown>;
type Proto = Record<HandleMethod, Method>;

let proto: Proto | undefined;
const originals = new Map<HandleMethod, Method>();

async function fileHandleProto(): Promise<Proto> {
  if (proto === undefined) {
    const fh: FileHandle = await open(process.execPath, "r");
    proto = Object.getPrototypeOf(fh) as Proto;
    await fh.close();
  }
  return proto;
}

/** An error shaped like Node's for `code` (ENOSPC, EIO...). */
export function errno(code: string): Error {
  return Object.assign(new Error(`${code}: injected failure`), { code });
}

/** Replaces FileHandle.prototype[name] with `impl` until {@link restoreFileHandle}. */
export async function inject(
  name: HandleMethod,
  impl: (orig: Method, self: unknown, args: unknown[]) => Promise<unknown>,
): Promise<void> {
  const p = await fileHandleProto();
  const orig = originals.get(name) ?? p[name];
  originals.set(name, orig);
  p[name] = function (this: unknown, ...args: unknown[]) {
    return impl(orig, this, args);
  };
}

/** Counts calls of `name` (still performing them); read the returned object's `calls`. */
export async function countCalls(name: HandleMethod): Promise<{ calls: number }> {
  const counter = { calls: 0 };
  await inject(name, (orig, self, args) => {
    counter.calls++;
    return orig.apply(self, args);
  });
  return counter;
}

/** Undoes every injection. */
export function restoreFileHandle(): void {
  if (proto === undefined) return;
  for (const [name, fn] of originals) proto[name] = fn;
  originals.clear();
}
