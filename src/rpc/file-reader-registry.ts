/**
 * The readers a FileService serves, by reader id (braft's FileServiceImpl reader map). A leader
 * registers a SnapshotReader when it sends InstallSnapshot; the follower then names it in its
 * `remote://ip:port/<reader_id>` URI.
 *
 * Beyond braft: a reader no follower has read from for `idleTimeoutMs` is dropped. braft keeps a
 * reader until its owner closes it (the replicator, when install_snapshot returns), and has no
 * idle flag; a follower that died mid-copy or a replicator that leaked its reader would pin the
 * snapshot directory and an id forever. 30 s by default: well above braft's 10 s get_file
 * timeout plus its retries (3 x 1 s), so a live copy never loses its reader.
 */
import type { SnapshotCopyRegistrar, SnapshotReader } from "../storage/snapshot-storage.js";
import { realCopyClock, type CopyClock } from "./snapshot-throttle.js";

/** What registering a reader gives its owner. */
export interface FileReaderRegistration {
  /** The id followers put in GetFileRequest.reader_id; 0 when the reader could not be served. */
  readonly readerId: bigint;
  /** `remote://<ip:port>/<reader_id>`, or "" when the server has no address yet (braft too). */
  readonly uri: string;
  /** Stops serving the reader; idempotent. The owner still closes the reader in its storage. */
  release(): void;
}

/** A reader being served. */
export interface ServedReader {
  readonly id: bigint;
  readonly reader: SnapshotReader;
  /** The snapshot's file list, fixed at registration: a reader is immutable. */
  readonly files: ReadonlySet<string>;
  /** The encoded `__raft_snapshot_meta`, computed on first request. */
  metaBytes: Uint8Array | undefined;
  /**
   * The snapshot directory with symlinks resolved, computed on first file request (undefined
   * when the reader's file system has no links).
   */
  realDir: string | undefined;
  /** The FileSystemAdaptor's answer to openSnapshot, asked before the first file is read. */
  snapshotOpened: Promise<boolean> | undefined;
  lastUsedMs: number;
  /** get_file calls running on this reader; a reader is never expired under a running read. */
  activeReads: number;
  /** Set by the service: frees what it keeps for this reader (an open file) once it is dropped. */
  onRemoved: (() => void) | undefined;
}

/** Options of {@link FileReaderRegistry}. */
export interface FileReaderRegistryOptions {
  /**
   * The `ip:port` put in URIs: the address peers reach this server at (the peer id's endpoint,
   * not a wildcard listen address). A function is read at each registration, so a server's
   * address can be used before it is known.
   */
  readonly address: string | (() => string);
  /** Drops readers unused for this long (default {@link FileReaderDefaults.idleTimeoutMs}); <= 0: never. */
  readonly idleTimeoutMs?: number | undefined;
  readonly clock?: CopyClock | undefined;
  /** Told about each reader dropped for idleness, so its owner can close it in its storage. */
  readonly onExpired?: ((reader: SnapshotReader, readerId: bigint) => void) | undefined;
}

/** Defaults, named so tests and docs can refer to them. */
export const FileReaderDefaults = {
  idleTimeoutMs: 30_000,
} as const;

/**
 * braft's first reader id: the pid in the high bits and the wall clock in µs below, so ids stay
 * unique across restarts of a server at the same address: a follower holding a URI from before
 * a restart gets ENOENT, never another snapshot's files.
 */
function firstReaderId(): bigint {
  const micros = BigInt(Date.now()) * 1000n;
  return BigInt.asIntN(64, (BigInt(process.pid) << 45n) | (micros & ((1n << 45n) - 1n)));
}

/** Reader ids to readers, with idle expiry. */
export class FileReaderRegistry {
  private readonly readers = new Map<bigint, ServedReader>();
  private readonly clock: CopyClock;
  private readonly idleTimeoutMs: number;
  private nextId = firstReaderId();
  private cancelSweep: (() => void) | undefined;
  private closed = false;

  /** `registerReader` as a SnapshotStorage's copy hook (`storage.setCopyRegistrar(registry.registrar)`). */
  readonly registrar: SnapshotCopyRegistrar = (reader) => this.registerReader(reader);

  constructor(private readonly options: FileReaderRegistryOptions) {
    this.clock = options.clock ?? realCopyClock;
    this.idleTimeoutMs = options.idleTimeoutMs ?? FileReaderDefaults.idleTimeoutMs;
  }

  /** Readers being served. */
  get size(): number {
    return this.readers.size;
  }

  /**
   * Serves `reader` to peers until released, expired or the registry closes. `address` overrides
   * the registry's for this URI (a node passes its PeerId's `ip:port`).
   */
  registerReader(reader: SnapshotReader, address = this.address()): FileReaderRegistration {
    if (this.closed || address === "") return { readerId: 0n, uri: "", release: () => undefined };
    let id = this.nextId++;
    if (id === 0n) id = this.nextId++; // 0 means "no reader" in braft.
    this.readers.set(id, {
      id,
      reader,
      files: new Set(reader.listFiles()),
      metaBytes: undefined,
      realDir: undefined,
      snapshotOpened: undefined,
      lastUsedMs: this.clock.nowMs(),
      activeReads: 0,
      onRemoved: undefined,
    });
    this.armSweep();
    return { readerId: id, uri: `remote://${address}/${id}`, release: () => this.remove(id) };
  }

  /**
   * The reader with `id`, marked in use until {@link endUse}; undefined when unknown, released
   * or expired.
   */
  beginUse(id: bigint): ServedReader | undefined {
    const served = this.readers.get(id);
    if (served === undefined) return undefined;
    served.activeReads++;
    served.lastUsedMs = this.clock.nowMs();
    return served;
  }

  /** Ends a use begun by {@link beginUse}; the idle time counts from here. */
  endUse(served: ServedReader): void {
    served.activeReads--;
    served.lastUsedMs = this.clock.nowMs();
  }

  private address(): string {
    const { address } = this.options;
    return typeof address === "function" ? address() : address;
  }

  /** Stops serving every reader (server shutdown). Idempotent; later registrations get "". */
  close(): void {
    this.closed = true;
    const all = [...this.readers.values()];
    this.readers.clear();
    for (const served of all) served.onRemoved?.();
    this.cancelSweep?.();
    this.cancelSweep = undefined;
  }

  private remove(id: bigint): void {
    const served = this.readers.get(id);
    if (served === undefined) return;
    this.readers.delete(id);
    served.onRemoved?.();
    if (this.readers.size === 0) {
      this.cancelSweep?.();
      this.cancelSweep = undefined;
    }
  }

  /**
   * One timer for all readers while there are any, at a quarter of the idle time: a reader goes
   * between 1 and 1.25 idle times after its last use, at the cost of four wake-ups per period.
   */
  private armSweep(): void {
    if (this.cancelSweep !== undefined || this.idleTimeoutMs <= 0 || this.readers.size === 0) return;
    this.cancelSweep = this.clock.setTimer(
      () => {
        this.cancelSweep = undefined;
        this.sweep();
        this.armSweep();
      },
      Math.max(1, this.idleTimeoutMs / 4),
    );
  }

  private sweep(): void {
    const now = this.clock.nowMs();
    for (const served of [...this.readers.values()]) {
      if (served.activeReads > 0 || now - served.lastUsedMs < this.idleTimeoutMs) continue;
      this.readers.delete(served.id);
      served.onRemoved?.();
      try {
        this.options.onExpired?.(served.reader, served.id);
      } catch {
        // The owner's hook failing must not stop the sweep of the other readers.
      }
    }
  }
}
