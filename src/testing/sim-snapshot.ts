/**
 * Snapshots in the simulator: a SnapshotStorage whose files live in a real temporary directory
 * (state machines write them with ordinary fs calls, braft's contract) but whose every step is
 * synchronous and completes on the scheduler, so runs stay deterministic; and a SnapshotTransfer
 * that copies between simulated processes over the simulated network's links.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { RaftError } from "../core/errors.js";
import { defaultFileSystem, FileOpenFlags, type FileSystemAdaptor } from "../storage/fs-adaptor.js";
import { checkedFileSystem, readWholeFile, withFile } from "../storage/fs-adaptor-checked.js";
import type { PeerKey } from "../core/types.js";
import type { Env } from "../env/env.js";
import type { SnapshotCopyOptions, SnapshotTransfer } from "../node/ports.js";
import type {
  SnapshotCopyRegistrar,
  SnapshotFileMeta,
  SnapshotMeta,
  SnapshotReader,
  SnapshotStorage,
  SnapshotWriter,
} from "../storage/snapshot-storage.js";
import type { SimNetwork } from "./sim-network.js";
import { ungated } from "./sim-fs-adaptor.js";
import type { SimScheduler } from "./sim-scheduler.js";

interface StoredSnapshot {
  readonly dir: string;
  readonly meta: SnapshotMeta;
  readonly files: ReadonlyMap<string, SnapshotFileMeta>;
  readers: number;
  superseded: boolean;
}

/** Every write completes after this much virtual time (a crash before then loses it). */
const WRITE_LATENCY_MS = 1;

/** The durable snapshots of one simulated process; like SimDisk, it outlives incarnations. */
export class SimSnapshotStore {
  current: StoredSnapshot | undefined;
  private sequence = 0;

  constructor(readonly dir: string) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  /** The SnapshotStorage of the process's current incarnation. */
  open(env: Env): SnapshotStorage {
    return new SimSnapshotStorage(this, env);
  }

  /** @internal */
  nextTempDir(): string {
    const dir = join(this.dir, `temp-${this.sequence++}`);
    mkdirSync(dir);
    return dir;
  }

  /** @internal Makes a finished writer the current snapshot. */
  commit(writer: SimWriter): void {
    const meta = writer.meta;
    if (meta === undefined) throw new RaftError("EINVAL", "snapshot writer closed without meta");
    const dir = join(
      this.dir,
      `snapshot_${String(meta.lastIncludedIndex).padStart(20, "0")}_${this.sequence++}`,
    );
    renameSync(writer.path, dir);
    const previous = this.current;
    this.current = { dir, meta, files: new Map(writer.files), readers: 0, superseded: false };
    if (previous !== undefined) {
      previous.superseded = true;
      this.release(previous, 0);
    }
  }

  /** @internal */
  release(snapshot: StoredSnapshot, readers: number): void {
    snapshot.readers = readers;
    if (snapshot.superseded && snapshot.readers === 0) rmSync(snapshot.dir, { recursive: true, force: true });
  }
}

class SimWriter implements SnapshotWriter {
  readonly files = new Map<string, SnapshotFileMeta>();
  meta: SnapshotMeta | undefined;
  error: Error | undefined;

  constructor(readonly path: string) {}

  listFiles(): string[] {
    return [...this.files.keys()];
  }
  getFileMeta(name: string): SnapshotFileMeta | undefined {
    return this.files.get(name);
  }
  saveMeta(meta: SnapshotMeta): void {
    this.meta = meta;
  }
  addFile(name: string, meta: SnapshotFileMeta = {}): void {
    this.files.set(name, meta);
  }
  removeFile(name: string): void {
    this.files.delete(name);
  }
  setError(error: Error): void {
    this.error = error;
  }
}

class SimReader implements SnapshotReader {
  /** The copy registration, released when the reader is closed (as the local storage does). */
  registration: { uri: string; release(): void } | undefined;

  constructor(
    readonly snapshot: StoredSnapshot,
    private readonly registrar: SnapshotCopyRegistrar | undefined,
  ) {}

  get path(): string {
    return this.snapshot.dir;
  }
  listFiles(): string[] {
    return [...this.snapshot.files.keys()];
  }
  getFileMeta(name: string): SnapshotFileMeta | undefined {
    return this.snapshot.files.get(name);
  }
  loadMeta(): SnapshotMeta {
    return this.snapshot.meta;
  }
  generateUriForCopy(): string {
    this.registration ??= this.registrar?.(this);
    return this.registration?.uri ?? "";
  }
}

class SimSnapshotStorage implements SnapshotStorage {
  private registrar: SnapshotCopyRegistrar | undefined;

  constructor(
    private readonly store: SimSnapshotStore,
    private readonly env: Env,
  ) {}

  init(): Promise<void> {
    return this.later(() => {
      for (const name of readdirSync(this.store.dir)) {
        if (name.startsWith("temp-")) rmSync(join(this.store.dir, name), { recursive: true, force: true });
      }
    });
  }

  create(): Promise<SnapshotWriter> {
    return this.later(() => new SimWriter(this.store.nextTempDir()));
  }

  closeWriter(writer: SnapshotWriter): Promise<void> {
    return this.later(() => {
      const simWriter = writer as SimWriter;
      if (simWriter.error !== undefined) {
        rmSync(simWriter.path, { recursive: true, force: true });
        throw simWriter.error;
      }
      this.store.commit(simWriter);
    });
  }

  open(): Promise<SnapshotReader | undefined> {
    return this.later(() => {
      const current = this.store.current;
      if (current === undefined) return undefined;
      current.readers++;
      return new SimReader(current, this.registrar);
    });
  }

  closeReader(reader: SnapshotReader): Promise<void> {
    const { snapshot, registration } = reader as SimReader;
    registration?.release();
    this.store.release(snapshot, snapshot.readers - 1);
    return Promise.resolve();
  }

  setCopyRegistrar(registrar: SnapshotCopyRegistrar | undefined): void {
    this.registrar = registrar;
  }

  /** Runs `step` after the write latency, on the scheduler (a dead incarnation never runs it). */
  private later<T>(step: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.env.setTimer(() => {
        try {
          resolve(step());
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }, WRITE_LATENCY_MS);
    });
  }
}

/** Copies snapshots between simulated processes, if the network links between them are open. */
export class SimSnapshotTransfer {
  private readonly readers = new Map<number, { owner: PeerKey; reader: SnapshotReader }>();
  private nextId = 1;
  private running = 0;
  /** How long one copy takes, in virtual time. */
  copyDelayMs = 10;
  /** Makes a copy fail (as a lost connection would) when it returns true. */
  failCopy: ((to: PeerKey, uri: string) => boolean) | undefined;
  /** Copies started, and the most that ran at once. */
  copiesStarted = 0;
  maxConcurrentCopies = 0;

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly network: SimNetwork,
  ) {}

  /** A crashed process serves no more copies. */
  dropOwner(peer: PeerKey): void {
    for (const [id, source] of this.readers) if (source.owner === peer) this.readers.delete(id);
  }

  /** The transfer as process `peer` uses it. */
  forPeer(peer: PeerKey): SnapshotTransfer {
    return {
      registerReader: (reader) => {
        const id = this.nextId++;
        this.readers.set(id, { owner: peer, reader });
        return { uri: `remote://${peer}/${id}`, release: () => this.readers.delete(id) };
      },
      copySnapshot: (uri, writer, options) => this.copy(peer, uri, writer, options),
    };
  }

  private copy(
    to: PeerKey,
    uri: string,
    writer: SnapshotWriter,
    options: SnapshotCopyOptions,
  ): Promise<SnapshotMeta> {
    this.copiesStarted++;
    this.running++;
    this.maxConcurrentCopies = Math.max(this.maxConcurrentCopies, this.running);
    const copying = new Promise<SnapshotMeta>((resolve, reject) => {
      const abort = (): void => reject(new RaftError("ECANCELED", "snapshot copy aborted"));
      options.signal.addEventListener("abort", abort, { once: true });
      this.scheduler.schedule(this.copyDelayMs, () => {
        options.signal.removeEventListener("abort", abort);
        if (options.signal.aborted) return;
        try {
          resolve(
            writer.fileSystem === undefined
              ? this.copyNow(to, uri, writer)
              : this.copyThroughAdaptors(to, uri, writer, writer.fileSystem),
          );
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    return copying.finally(() => this.running--);
  }

  /** The reader behind `uri`, if the copy may reach it now (else the error a copy would meet). */
  private sourceOf(to: PeerKey, uri: string): { owner: PeerKey; reader: SnapshotReader } {
    const source = this.readers.get(Number(uri.slice(uri.lastIndexOf("/") + 1)));
    if (source === undefined) throw new RaftError("ENOENT", `no snapshot reader ${uri}`);
    if (!this.network.linkOpen(to, source.owner) || !this.network.linkOpen(source.owner, to)) {
      throw new RaftError("EHOSTUNREACH", `${source.owner} is unreachable from ${to}`);
    }
    if (this.failCopy?.(to, uri) === true) throw new RaftError("EIO", `injected failure copying ${uri}`);
    return source;
  }

  /**
   * The copy between processes whose snapshots live in FileSystemAdaptors: the leader's files are
   * read at once (from its process-wide file system, so a leader crashing meanwhile cannot stall
   * the copy), then written through the follower's adaptor, call by call on its timers.
   */
  private async copyThroughAdaptors(
    to: PeerKey,
    uri: string,
    writer: SnapshotWriter,
    fileSystem: FileSystemAdaptor,
  ): Promise<SnapshotMeta> {
    const source = this.sourceOf(to, uri);
    const from = checkedFileSystem(ungated(source.reader.fileSystem ?? defaultFileSystem()));
    const files = await Promise.all(
      source.reader.listFiles().map(async (name) => {
        const data = await readWholeFile(from, join(source.reader.path, name));
        return { name, data, meta: source.reader.getFileMeta(name) };
      }),
    );
    const into = checkedFileSystem(fileSystem);
    for (const { name, data, meta } of files) {
      const path = join(writer.path, name);
      await into.createDirectory(dirname(path), true);
      await withFile(into, path, FileOpenFlags.writeNew, (file) => file.write(data, 0));
      writer.addFile(name, meta);
    }
    const meta = source.reader.loadMeta();
    writer.saveMeta(meta);
    return meta;
  }

  private copyNow(to: PeerKey, uri: string, writer: SnapshotWriter): SnapshotMeta {
    const source = this.sourceOf(to, uri);
    try {
      for (const name of source.reader.listFiles()) {
        copyFileSync(join(source.reader.path, name), join(writer.path, name));
        writer.addFile(name, source.reader.getFileMeta(name));
      }
    } catch (error) {
      throw new RaftError("EIO", `snapshot copy from ${uri} failed: ${String(error)}`);
    }
    const meta = source.reader.loadMeta();
    writer.saveMeta(meta);
    return meta;
  }
}
