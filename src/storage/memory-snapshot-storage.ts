/**
 * `memory://` SnapshotStorage. A state machine writes snapshot files with ordinary file I/O under
 * `writer.path`, so even the in-memory flavour needs a directory: it is the local layout in a
 * per-process temporary directory, named like the other memory stores so a node restarted in the
 * same process finds its snapshot, never fsynced, and removed when the process exits.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalSnapshotStorage } from "./local/local-snapshot-storage.js";

let root: string | undefined;

/** The per-process directory holding every memory snapshot store (created on first use). */
function memoryRoot(): string {
  if (root === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "tsraft-memory-snapshots-"));
    root = dir;
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return root;
}

/**
 * The local snapshot layout in a process-private temporary directory for `name`; an empty name
 * gets a directory of its own that no other instance shares.
 */
export class MemorySnapshotStorage extends LocalSnapshotStorage {
  constructor(name = "") {
    const dir =
      name === ""
        ? mkdtempSync(join(memoryRoot(), "private-"))
        : join(memoryRoot(), encodeURIComponent(name));
    // Private to this process and to one name: nothing else can open it, so no lock file.
    super(dir, { raft_sync: false, lockDirectory: false });
  }
}

/** Deletes every memory snapshot store. */
export function clearMemorySnapshotStores(): void {
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
  root = undefined;
}
