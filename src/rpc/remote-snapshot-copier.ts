/**
 * braft's LocalSnapshotCopier: copies a leader's snapshot, named by a `remote://` URI, into a
 * follower's SnapshotWriter. First the meta file (snapshot meta and file table), then each file,
 * one after another; with `filterBeforeCopyRemote`, files the follower already has with the same
 * checksum are taken from its last snapshot instead of the network.
 */
import { dirname, join } from "node:path";
import { RaftError } from "../core/errors.js";
import { defaultFileSystem, type FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { checkedFileSystem, copyWholeFile, type CheckedFileSystem } from "../storage/fs-adaptor-checked.js";
import { decodeSnapshotTable, type SnapshotTable } from "../storage/local/snapshot-meta-codec.js";
import type {
  SnapshotFileMeta,
  SnapshotMeta,
  SnapshotReader,
  SnapshotWriter,
} from "../storage/snapshot-storage.js";
import type { Channel } from "./channel.js";
import type { ChannelPool } from "./channel-pool.js";
import { SNAPSHOT_META_FILE_NAME, isInsideName } from "./file-service.js";
import { RemoteFileCopier, type CopyFileOptions, type FileCopyOptions } from "./remote-file-copier.js";

/** Options of {@link copySnapshot}. */
export interface CopySnapshotOptions extends FileCopyOptions, CopyFileOptions {
  /** Where get_file goes: a server's `channels` (the usual case) or one channel. */
  readonly channels: ChannelPool | Channel;
  /** braft's filter_before_copy_remote: reuse local files with the same name and checksum. */
  readonly filterBeforeCopyRemote?: boolean | undefined;
  /** The follower's current snapshot, where reusable files are looked for. */
  readonly localReader?: SnapshotReader | undefined;
  /** Told after each file is in place, copied or reused (status pages, tests). */
  readonly onFile?: ((name: string, how: "copied" | "linked" | "kept") => void) | undefined;
}

/**
 * Copies the snapshot at `uri` into `writer`: saves its meta, adds every file with the leader's
 * file meta, and resolves with the snapshot meta. On failure the writer gets the error
 * (`writer.setError`), so closing it in its storage discards the partial copy, and the promise
 * rejects with a RaftError (ECANCELED when `signal` aborted).
 */
export async function copySnapshot(
  uri: string,
  writer: SnapshotWriter,
  options: CopySnapshotOptions,
): Promise<SnapshotMeta> {
  try {
    const fileSystem = writer.fileSystem ?? defaultFileSystem();
    const fs = checkedFileSystem(fileSystem);
    const copier = new RemoteFileCopier(uri, options.channels, options);
    const remote = await loadRemoteTable(copier, options);
    const meta = remote.meta as SnapshotMeta;
    const present =
      options.filterBeforeCopyRemote === true
        ? await filterBeforeCopy(writer, remote, options, fs)
        : new Set<string>();
    writer.saveMeta(meta);
    for (const [name, fileMeta] of remote.files) {
      if (present.has(name)) continue;
      const dest = join(writer.path, name);
      await fs.createDirectory(dirname(dest), true);
      // Unlink first: a file left in the writer may be a hard link into the current snapshot,
      // and opening it for writing would truncate that snapshot's copy too.
      await fs.deleteFile(dest, false);
      await copier.copyToFile(name, dest, { ...options, fileSystem });
      writer.addFile(name, fileMeta);
      options.onFile?.(name, "copied");
    }
    return meta;
  } catch (err) {
    const error = RaftError.is(err)
      ? err
      : new RaftError("EIO", `snapshot copy failed: ${String(err)}`, { cause: err });
    writer.setError(error);
    throw error;
  }
}

/** Fetches and checks `__raft_snapshot_meta`: names must stay inside the writer's directory. */
async function loadRemoteTable(copier: RemoteFileCopier, options: CopyFileOptions): Promise<SnapshotTable> {
  const bytes = await copier.copyToBuffer(SNAPSHOT_META_FILE_NAME, options);
  let table: SnapshotTable;
  try {
    table = decodeSnapshotTable(bytes);
  } catch (err) {
    throw new RaftError("EIO", `Bad meta_table format from ${copier.endpoint}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (table.meta === undefined) throw new RaftError("EIO", `meta_table from ${copier.endpoint} has no meta`);
  for (const name of table.files.keys()) {
    // A leader is trusted with data, not with paths on this machine.
    if (!isInsideName(name) || name === SNAPSHOT_META_FILE_NAME) {
      throw new RaftError("EINVAL", `remote snapshot lists an invalid file name "${name}"`);
    }
  }
  return table;
}

/**
 * braft's filter_before_copy: decides which remote files need no download. A file the writer
 * already holds with the remote checksum is kept; one the local snapshot holds with it is
 * hard-linked (or copied, across file systems) into the writer. Files without a checksum are
 * always downloaded. Returns the names now present in the writer.
 */
async function filterBeforeCopy(
  writer: SnapshotWriter,
  remote: SnapshotTable,
  options: CopySnapshotOptions,
  fs: CheckedFileSystem,
): Promise<Set<string>> {
  const present = new Set<string>();
  const stale = new Set<string>();
  const writerFiles = new Set(writer.listFiles());
  for (const name of writerFiles) {
    if (!remote.files.has(name)) stale.add(name);
  }
  const local = options.localReader;
  const localFiles = new Set(local?.listFiles() ?? []);
  for (const [name, remoteMeta] of remote.files) {
    if (writerFiles.has(name)) {
      if (sameChecksum(writer.getFileMeta(name), remoteMeta)) {
        present.add(name);
        options.onFile?.(name, "kept");
        continue;
      }
      stale.add(name);
    }
    const localMeta = localFiles.has(name) ? local?.getFileMeta(name) : undefined;
    if (local === undefined || !sameChecksum(localMeta, remoteMeta)) continue;
    // A file of another file system cannot be linked: it is downloaded instead.
    if (!sameFileSystem(local.fileSystem, writer.fileSystem)) continue;
    if (
      localMeta?.source !== "reference" &&
      !(await reuseLocalFile(fs, join(local.path, name), join(writer.path, name)))
    ) {
      continue;
    }
    stale.delete(name);
    writer.addFile(name, localMeta ?? {});
    present.add(name);
    options.onFile?.(name, "linked");
  }
  for (const name of stale) {
    writer.removeFile(name);
    if (!present.has(name)) await fs.deleteFile(join(writer.path, name), false);
  }
  return present;
}

function sameChecksum(local: SnapshotFileMeta | undefined, remote: SnapshotFileMeta): boolean {
  return remote.checksum !== undefined && local?.checksum === remote.checksum;
}

function sameFileSystem(a: FileSystemAdaptor | undefined, b: FileSystemAdaptor | undefined): boolean {
  return (a ?? defaultFileSystem()) === (b ?? defaultFileSystem());
}

/** Hard-links `source` to `dest` (copies when linking fails); false when neither works. */
async function reuseLocalFile(fs: CheckedFileSystem, source: string, dest: string): Promise<boolean> {
  try {
    await fs.createDirectory(dirname(dest), true);
    await fs.deleteFile(dest, false);
    try {
      await fs.link(source, dest);
    } catch {
      await copyWholeFile(fs, source, dest);
    }
    return true;
  } catch {
    return false; // It will be downloaded instead.
  }
}
