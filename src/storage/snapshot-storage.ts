/**
 * braft's SnapshotStorage and the writer/reader a state machine sees. A snapshot is a directory
 * of user files plus a meta record (last included index/term and configuration) and a file list
 * with optional per-file meta. The storage keeps the newest complete snapshot and never deletes
 * one that a reader still holds.
 */
import type { PeerKey } from "../core/types.js";
import type { FileSystemAdaptor } from "./fs-adaptor.js";

/** braft's SnapshotMeta (raft.proto), plus the learners tsraft adds. */
export interface SnapshotMeta {
  readonly lastIncludedIndex: number;
  readonly lastIncludedTerm: number;
  readonly peers: readonly PeerKey[];
  readonly oldPeers?: readonly PeerKey[] | undefined;
  readonly learners?: readonly PeerKey[] | undefined;
  readonly oldLearners?: readonly PeerKey[] | undefined;
}

/** braft's LocalFileMeta (local_file_meta.proto): what the file list records about one file. */
export interface SnapshotFileMeta {
  /** Opaque bytes the state machine attaches to the file. */
  readonly userMeta?: Uint8Array | undefined;
  /** "reference" marks a file that is a link to data kept elsewhere (braft's FILE_SOURCE_REFERENCE). */
  readonly source?: "local" | "reference" | undefined;
  /** A checksum of the file's contents, in a format the state machine chooses. */
  readonly checksum?: string | undefined;
}

/** What writers and readers share: the directory and its file list. */
export interface Snapshot {
  /** The directory holding the snapshot's files. */
  readonly path: string;
  /** Names (relative to `path`) of the files that belong to the snapshot. */
  listFiles(): string[];
  getFileMeta(name: string): SnapshotFileMeta | undefined;
  /**
   * The file system the snapshot's files live in (`NodeOptions.snapshotFileSystemAdaptor`, or the
   * real one). A state machine whose node has an adaptor writes and reads its files through it;
   * the file service and the remote copier do too. Absent: the real file system.
   */
  readonly fileSystem?: FileSystemAdaptor | undefined;
}

/** braft's SnapshotWriter: given to `onSnapshotSave`; files written to `path` then added by name. */
export interface SnapshotWriter extends Snapshot {
  /** Records the snapshot meta; required before the writer is closed. */
  saveMeta(meta: SnapshotMeta): void;
  /** Adds `name` (a file already written under `path`) to the snapshot's file list. */
  addFile(name: string, meta?: SnapshotFileMeta): void;
  /** Removes `name` from the file list (the file itself is left to the caller). */
  removeFile(name: string): void;
  /** Marks the writer failed: closing it discards the snapshot (braft's set_error). */
  setError(error: Error): void;
  /** The error set by {@link setError}, if any. */
  readonly error: Error | undefined;
}

/** braft's SnapshotReader: given to `onSnapshotLoad` and used to serve remote copies. */
export interface SnapshotReader extends Snapshot {
  loadMeta(): SnapshotMeta;
  /**
   * A `remote://ip:port/reader_id` URI through which a peer copies this snapshot, or "" when no
   * file service is attached (braft returns an empty string on failure too).
   */
  generateUriForCopy(): string;
}

/**
 * Registers a reader with the FileService (owned by the rpc layer) so peers can copy it.
 * `release` runs when the reader is closed.
 */
export type SnapshotCopyRegistrar = (reader: SnapshotReader) => { uri: string; release(): void };

/** braft's SnapshotStorage, as the SnapshotExecutor drives it. */
export interface SnapshotStorage {
  /** Creates the directory if needed, removes unfinished writers and older snapshots. */
  init(): Promise<void>;
  /** Starts a new snapshot in a temporary directory. */
  create(): Promise<SnapshotWriter>;
  /**
   * Completes a writer: if it has no error, makes the snapshot durable, moves it into place and
   * removes the older one (once no reader holds it). Rejects with EEXIST when a snapshot of the
   * same index exists; with the writer's error if it has one.
   */
  closeWriter(writer: SnapshotWriter): Promise<void>;
  /** A reader on the newest snapshot, or undefined when there is none. Close it when done. */
  open(): Promise<SnapshotReader | undefined>;
  /** Releases a reader; the last release of a superseded snapshot deletes it. */
  closeReader(reader: SnapshotReader): Promise<void>;
  /**
   * braft's set_file_system_adaptor: the file system this storage keeps its snapshots in, given
   * before `init`. A storage without this method cannot take an adaptor: a node given
   * `snapshotFileSystemAdaptor` with such a storage refuses to init (EINVAL).
   */
  setFileSystemAdaptor?(fs: FileSystemAdaptor): void;
  /** Attaches the FileService hook used by {@link SnapshotReader.generateUriForCopy}. */
  setCopyRegistrar(registrar: SnapshotCopyRegistrar | undefined): void;
  /**
   * Releases what `init` took (the `local://` directory lock) when the node shuts down.
   * Optional, for storages written before it existed. Idempotent.
   */
  close?(): Promise<void>;
}
