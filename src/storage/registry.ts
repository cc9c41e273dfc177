/**
 * braft's storage extension registry: each storage kind is chosen by the scheme of a URI
 * (`local://data/log`, `memory://n1/log`), and users register their own schemes. `local://` paths
 * are relative to the working directory (`local://data`) or absolute (`local:///var/raft`);
 * `memory://<name>` names a process-wide in-memory store. Raft meta also has braft's
 * `local-merged://<dir>` (one file for every node of the process naming `<dir>`) and
 * `local-mixed://merged_path=<dir>&&single_path=<dir>` (both, to move between the two).
 */
import { resolve } from "node:path";
import { RaftError } from "../core/errors.js";
import type { LogStorage, RaftMetaStorage } from "./interfaces.js";
import { LocalRaftMetaStorage } from "./local/local-meta-storage.js";
import { LocalSnapshotStorage } from "./local/local-snapshot-storage.js";
import { MergedRaftMetaStorage, MixedRaftMetaStorage, parseMixedPath } from "./local/merged-meta-storage.js";
import type { LocalStorageOptions } from "./local/options.js";
import { SegmentLogStorage } from "./local/segment-log-storage.js";
import { MemoryLogStorage, clearMemoryLogStores, memoryLogStore } from "./memory-log-storage.js";
import { MemoryRaftMetaStorage, clearMemoryMetaStores, memoryMetaStore } from "./memory-meta-storage.js";
import { MemorySnapshotStorage, clearMemorySnapshotStores } from "./memory-snapshot-storage.js";
import type { SnapshotStorage } from "./snapshot-storage.js";

/** Options every factory receives: braft's storage flags (see LocalStorageOptions). */
export type StorageOptions = LocalStorageOptions;

/** Builds a storage from the part of the URI after `scheme://`. */
export type StorageFactory<T> = (path: string, options: StorageOptions) => T;
export type LogStorageFactory = StorageFactory<LogStorage>;
export type RaftMetaStorageFactory = StorageFactory<RaftMetaStorage>;
export type SnapshotStorageFactory = StorageFactory<SnapshotStorage>;

class Registry<T> {
  private readonly factories = new Map<string, StorageFactory<T>>();

  constructor(private readonly kind: string) {}

  register(scheme: string, factory: StorageFactory<T>): void {
    if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme))
      throw new RaftError("EINVAL", `invalid storage scheme "${scheme}"`);
    if (this.factories.has(scheme)) {
      throw new RaftError("EEXIST", `${this.kind} storage scheme "${scheme}" is already registered`);
    }
    this.factories.set(scheme, factory);
  }

  create(uri: string, options: StorageOptions): T {
    const { scheme, path } = parseStorageUri(uri);
    const factory = this.factories.get(scheme);
    if (factory === undefined) {
      const known = [...this.factories.keys()].join(", ");
      throw new RaftError(
        "EINVAL",
        `unknown ${this.kind} storage scheme "${scheme}" in "${uri}" (registered: ${known})`,
      );
    }
    return factory(path, options);
  }
}

/** Splits `scheme://path`; a URI without `://` is an EINVAL naming it. */
export function parseStorageUri(uri: string): { scheme: string; path: string } {
  const at = typeof uri === "string" ? uri.indexOf("://") : -1;
  if (at <= 0) throw new RaftError("EINVAL", `invalid storage uri "${String(uri)}": expected scheme://path`);
  return { scheme: uri.slice(0, at), path: uri.slice(at + 3) };
}

/** `local://data` is relative to the working directory, `local:///abs` absolute. */
function localPath(path: string): string {
  if (path === "") throw new RaftError("EINVAL", "a local:// storage uri needs a path");
  return resolve(process.cwd(), path);
}

const logRegistry = new Registry<LogStorage>("log");
const metaRegistry = new Registry<RaftMetaStorage>("raft meta");
const snapshotRegistry = new Registry<SnapshotStorage>("snapshot");

/** Registers a LogStorage for URIs `scheme://...`; EEXIST when the scheme is taken. */
export function registerLogStorage(scheme: string, factory: LogStorageFactory): void {
  logRegistry.register(scheme, factory);
}

/** Registers a RaftMetaStorage for URIs `scheme://...`; EEXIST when the scheme is taken. */
export function registerRaftMetaStorage(scheme: string, factory: RaftMetaStorageFactory): void {
  metaRegistry.register(scheme, factory);
}

/** Registers a SnapshotStorage for URIs `scheme://...`; EEXIST when the scheme is taken. */
export function registerSnapshotStorage(scheme: string, factory: SnapshotStorageFactory): void {
  snapshotRegistry.register(scheme, factory);
}

/** The LogStorage for `uri` (not yet initialized); EINVAL naming an unknown scheme. */
export function createLogStorageFromUri(uri: string, options: StorageOptions = {}): LogStorage {
  return logRegistry.create(uri, options);
}

/** The RaftMetaStorage for `uri` (not yet initialized); EINVAL naming an unknown scheme. */
export function createRaftMetaStorageFromUri(uri: string, options: StorageOptions = {}): RaftMetaStorage {
  return metaRegistry.create(uri, options);
}

/** The SnapshotStorage for `uri` (not yet initialized); EINVAL naming an unknown scheme. */
export function createSnapshotStorageFromUri(uri: string, options: StorageOptions = {}): SnapshotStorage {
  return snapshotRegistry.create(uri, options);
}

/** Short alias of {@link createLogStorageFromUri}. */
export const createLogStorage = createLogStorageFromUri;
/** Short alias of {@link createRaftMetaStorageFromUri}. */
export const createRaftMetaStorage = createRaftMetaStorageFromUri;
/** Short alias of {@link createSnapshotStorageFromUri}. */
export const createSnapshotStorage = createSnapshotStorageFromUri;

/** Forgets the data of every `memory://` store in this process (for tests). */
export function clearMemoryStores(): void {
  clearMemoryLogStores();
  clearMemoryMetaStores();
  clearMemorySnapshotStores();
}

/** `memory://` with no name gets a private store; with a name, the process-wide one. */
function memoryLog(name: string): LogStorage {
  return new MemoryLogStorage(name === "" ? undefined : memoryLogStore(name));
}

function memoryMeta(name: string): RaftMetaStorage {
  return new MemoryRaftMetaStorage(name === "" ? undefined : memoryMetaStore(name));
}

registerLogStorage("local", (path, options) => new SegmentLogStorage(localPath(path), options));
registerLogStorage("memory", memoryLog);
registerRaftMetaStorage("local", (path, options) => new LocalRaftMetaStorage(localPath(path), options));
registerRaftMetaStorage("memory", memoryMeta);
registerRaftMetaStorage(
  "local-merged",
  (path, options) => new MergedRaftMetaStorage(localPath(path), options),
);
registerRaftMetaStorage("local-mixed", (path, options) => {
  const { mergedPath, singlePath } = parseMixedPath(path);
  return new MixedRaftMetaStorage(localPath(singlePath), localPath(mergedPath), options);
});
registerSnapshotStorage("local", (path, options) => new LocalSnapshotStorage(localPath(path), options));
registerSnapshotStorage("memory", (name) => new MemorySnapshotStorage(name));
