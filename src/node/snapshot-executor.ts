/**
 * braft's SnapshotExecutor: saves snapshots (on the timer or `snapshot()`), compacts the log behind
 * them, gives the leader's replicators a snapshot to send, and installs one a leader sent.
 */
import { RaftError } from "../core/errors.js";
import { canonicalPeerKeys } from "../util/peer-text.js";
import type { InstallSnapshotRequest, SnapshotMetaData } from "../core/messages.js";
import type { ConfigurationData, LogId } from "../core/types.js";
import type { SnapshotThrottle, SnapshotTransfer } from "./ports.js";
import type { SnapshotMeta, SnapshotStorage, SnapshotWriter } from "../storage/snapshot-storage.js";
import type { FSMCaller } from "./fsm-caller.js";
import type { LogManager } from "./log-manager.js";
import type { Status } from "./closure.js";
import { observeSnapshot, type SnapshotObserver } from "./snapshot-observer.js";

/** braft's snapshot status on raft_stat. */
export type SnapshotState = "IDLE" | "SAVING" | "LOADING" | "DOWNLOADING";

/** What the executor needs from its node. */
export interface SnapshotExecutorHost {
  /** The configuration in force at `index` (for the snapshot meta). */
  configurationAt(index: number): ConfigurationData;
  /**
   * An install finished: `meta` when loaded, undefined when not. `logReset` tells whether the
   * log was dropped for disagreeing with the snapshot (else it continues after it).
   */
  finishInstall(replyId: number, meta: SnapshotMetaData | undefined, logReset: boolean): void;
  /** A snapshot failed to load into the state machine: the node must stop. */
  fail(error: RaftError): void;
}

export interface SnapshotExecutorOptions {
  /** raft_do_snapshot_min_index_gap: skip a snapshot covering fewer new entries. */
  readonly minIndexGap: number;
  /** Entries kept before a new snapshot; undefined keeps braft's rule (back to the previous one). */
  readonly logMarginEntries: number | undefined;
  readonly filterBeforeCopyRemote: boolean;
  readonly throttle: SnapshotThrottle | undefined;
  /** raft_max_install_snapshot_tasks_num, shared by every node of one server. */
  readonly installTasksMax: number;
  /** raft_max_byte_count_per_rpc: bytes asked for per get_file when copying a snapshot. */
  readonly maxByteCountPerRpc?: number | undefined;
  /** The running-install count of the server this node belongs to. */
  readonly installSlots: InstallSlots;
  /** Logs and times saves, installs and loads. */
  readonly observer: SnapshotObserver;
  /** NodeOptions.witness: installs keep the leader's meta and copy no files (braft's copy_file=false). */
  readonly witness?: boolean;
}

/** Installs running on one server (braft bounds them per process: one server per process). */
export interface InstallSlots {
  running: number;
}

const slotsByServer = new WeakMap<object, InstallSlots>();

/** The install counter shared by every node on `server`. */
export function installSlotsOf(server: object): InstallSlots {
  let slots = slotsByServer.get(server);
  if (slots === undefined) {
    slots = { running: 0 };
    slotsByServer.set(server, slots);
  }
  return slots;
}

interface Download {
  readonly meta: SnapshotMetaData;
  replyId: number;
  readonly controller: AbortController;
}

export class SnapshotExecutor {
  private state: SnapshotState = "IDLE";
  private saving: Promise<void> | undefined;
  private download: Download | undefined;
  private stopped = false;

  constructor(
    private readonly storage: SnapshotStorage,
    private readonly transfer: SnapshotTransfer | undefined,
    private readonly fsmCaller: FSMCaller,
    private readonly logManager: LogManager,
    private readonly host: SnapshotExecutorHost,
    private readonly options: SnapshotExecutorOptions,
  ) {
    if (transfer !== undefined) storage.setCopyRegistrar((reader) => transfer.registerReader(reader));
  }

  get status(): { state: SnapshotState; lastSnapshot: LogId; downloading: SnapshotMetaData | undefined } {
    return {
      state: this.state,
      lastSnapshot: this.logManager.lastSnapshot,
      downloading: this.download?.meta,
    };
  }

  /** True while a leader's snapshot is being copied and loaded (appends with entries wait). */
  get installing(): boolean {
    return this.download !== undefined;
  }

  /** Saves a snapshot of the state as of now; EBUSY while one is being saved. */
  snapshot(): Promise<void> {
    if (this.stopped) return Promise.reject(new RaftError("ESHUTDOWN", "node is shutting down"));
    if (this.saving !== undefined) return Promise.reject(new RaftError("EBUSY", "a snapshot is being saved"));
    if (this.download !== undefined)
      return Promise.reject(new RaftError("EBUSY", "a snapshot is being installed"));
    this.saving = this.save().finally(() => {
      this.saving = undefined;
      if (this.state === "SAVING") this.state = "IDLE";
    });
    return this.saving;
  }

  /** Leader: opens the newest snapshot for sending; `release` once the install was answered. */
  async openForSend(): Promise<{ meta: SnapshotMetaData; uri: string; release(): void } | undefined> {
    const reader = await this.storage.open();
    if (reader === undefined) return undefined;
    const uri = reader.generateUriForCopy();
    const meta = toMetaData(reader.loadMeta());
    return { meta, uri, release: () => void this.storage.closeReader(reader) };
  }

  /**
   * Follower: copies and loads the snapshot a leader sent. The same snapshot sent again joins the
   * running copy (the earlier request is answered with failure); a newer one cancels it.
   */
  install(replyId: number, request: InstallSnapshotRequest): void {
    const running = this.download;
    if (running !== undefined) {
      const order = compareMeta(request.meta, running.meta);
      if (order < 0) return this.host.finishInstall(replyId, undefined, false);
      if (order === 0) {
        this.host.finishInstall(running.replyId, undefined, false);
        running.replyId = replyId;
        return;
      }
      running.controller.abort(new RaftError("ECANCELED", "a newer snapshot arrived"));
    }
    if (request.meta.lastIncludedIndex <= this.fsmCaller.lastAppliedIndex) {
      // Everything it holds was applied here already: nothing to copy (braft skips it too).
      return this.host.finishInstall(replyId, request.meta, false);
    }
    if (this.stopped || this.transfer === undefined || this.saving !== undefined) {
      return this.host.finishInstall(replyId, undefined, false);
    }
    const slots = this.options.installSlots;
    if (slots.running >= this.options.installTasksMax)
      return this.host.finishInstall(replyId, undefined, false);
    const download: Download = { meta: request.meta, replyId, controller: new AbortController() };
    this.download = download;
    slots.running++;
    this.state = "DOWNLOADING";
    void this.runInstall(download, request.uri).finally(() => {
      slots.running--;
      if (this.download === download) {
        this.download = undefined;
        this.state = "IDLE";
      }
    });
  }

  /** Cancels a running install and waits for a running save. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.download?.controller.abort(new RaftError("ESHUTDOWN", "node is shutting down"));
    await this.saving?.catch(() => undefined);
  }

  private async save(): Promise<void> {
    let writer: SnapshotWriter | undefined;
    let meta: SnapshotMeta | undefined;
    let startMs = 0;
    const finished = new Promise<Status>((resolve) => {
      this.fsmCaller.saveSnapshot({
        begin: async (appliedIndex) => {
          if (appliedIndex - this.logManager.lastSnapshot.index < Math.max(1, this.options.minIndexGap))
            return undefined;
          this.state = "SAVING";
          startMs = this.options.observer.nowMs();
          this.options.observer.logger.info("snapshot save started", { index: appliedIndex });
          const term = this.logManager.term(appliedIndex) ?? 0;
          meta = toSnapshotMeta({
            lastIncludedIndex: appliedIndex,
            lastIncludedTerm: term,
            conf: this.host.configurationAt(appliedIndex),
          });
          writer = await this.storage.create();
          return writer;
        },
        done: { run: resolve },
      });
    });
    const status = await finished;
    if (writer === undefined || meta === undefined) {
      if (!status.ok()) throw status.toError();
      return;
    }
    try {
      await this.finishSave(status, writer, meta);
    } catch (error) {
      observeSnapshot(this.options.observer, "save", startMs, error, meta.lastIncludedIndex);
      throw error;
    }
    observeSnapshot(this.options.observer, "save", startMs, undefined, meta.lastIncludedIndex);
  }

  /** Closes the writer the state machine filled and compacts the log behind the new snapshot. */
  private async finishSave(status: Status, writer: SnapshotWriter, meta: SnapshotMeta): Promise<void> {
    if (!status.ok()) {
      writer.setError(status.toError());
      await this.storage.closeWriter(writer).catch(() => undefined);
      throw status.toError();
    }
    writer.saveMeta(meta);
    await this.storage.closeWriter(writer);
    const id = { index: meta.lastIncludedIndex, term: meta.lastIncludedTerm };
    await this.logManager.setSnapshot(id, this.options.logMarginEntries);
  }

  private async runInstall(download: Download, uri: string): Promise<void> {
    const { signal } = download.controller;
    const { observer } = this.options;
    const index = download.meta.lastIncludedIndex;
    const startMs = observer.nowMs();
    observer.logger.info("snapshot install started", { index, term: download.meta.lastIncludedTerm, uri });
    let writer: SnapshotWriter | undefined;
    try {
      writer = await this.storage.create();
      if (this.options.witness === true) writer.saveMeta(toSnapshotMeta(download.meta));
      else await this.copyFiles(uri, writer, signal);
      signal.throwIfAborted();
      await this.storage.closeWriter(writer);
      writer = undefined;
      await this.load(download);
      observeSnapshot(observer, "install", startMs, undefined, index);
    } catch (error) {
      observeSnapshot(observer, "install", startMs, error, index);
      if (writer !== undefined) {
        writer.setError(error instanceof Error ? error : new Error(String(error)));
        await this.storage.closeWriter(writer).catch(() => undefined);
      }
      if (this.download === download) this.host.finishInstall(download.replyId, undefined, false);
    }
  }

  /** Copies the leader's snapshot files and meta into `writer`. */
  private async copyFiles(uri: string, writer: SnapshotWriter, signal: AbortSignal): Promise<void> {
    const localReader = this.options.filterBeforeCopyRemote ? await this.storage.open() : undefined;
    try {
      await (this.transfer as SnapshotTransfer).copySnapshot(uri, writer, {
        signal,
        filterBeforeCopyRemote: this.options.filterBeforeCopyRemote,
        localReader,
        throttle: this.options.throttle,
        maxByteCountPerRpc: this.options.maxByteCountPerRpc,
      });
    } finally {
      if (localReader !== undefined) await this.storage.closeReader(localReader);
    }
  }

  private async load(download: Download): Promise<void> {
    const reader = await this.storage.open();
    if (reader === undefined) throw new RaftError("ENOENT", "the installed snapshot is missing");
    try {
      const meta = reader.loadMeta();
      this.state = "LOADING";
      const { observer } = this.options;
      const startMs = observer.nowMs();
      observer.logger.info("snapshot load started", { index: meta.lastIncludedIndex, at: "install" });
      try {
        await this.fsmCaller.loadSnapshot(reader, meta);
        observeSnapshot(observer, "load", startMs, undefined, meta.lastIncludedIndex);
      } catch (error) {
        const failure = RaftError.is(error) ? error : new RaftError("ESTATEMACHINE", String(error));
        observeSnapshot(observer, "load", startMs, failure, meta.lastIncludedIndex);
        // A stale snapshot was refused before touching the state machine; anything else left
        // it in an unknown state, so the node must stop.
        if (failure.code !== "ESTALE") this.host.fail(failure);
        throw failure;
      }
      const id = { index: meta.lastIncludedIndex, term: meta.lastIncludedTerm };
      const logReset = await this.logManager.setSnapshot(id, undefined);
      if (this.download === download) this.host.finishInstall(download.replyId, toMetaData(meta), logReset);
    } finally {
      await this.storage.closeReader(reader);
    }
  }
}

/** Orders snapshots by their last included entry (term first, as log ids compare). */
function compareMeta(a: SnapshotMetaData, b: SnapshotMetaData): number {
  if (a.lastIncludedTerm !== b.lastIncludedTerm) return a.lastIncludedTerm - b.lastIncludedTerm;
  return a.lastIncludedIndex - b.lastIncludedIndex;
}

/**
 * A stored snapshot's meta as the core takes it. Peers are canonicalized here, whatever storage
 * read them: a snapshot copied from braft names them `ip:port:idx:role`, and a node that took those
 * strings as its conf would not find itself in it (issue 15).
 */
export function toMetaData(meta: SnapshotMeta): SnapshotMetaData {
  const conf: { -readonly [K in keyof ConfigurationData]: ConfigurationData[K] } = {
    peers: canonicalPeerKeys(meta.peers),
  };
  if (meta.oldPeers !== undefined && meta.oldPeers.length > 0)
    conf.oldPeers = canonicalPeerKeys(meta.oldPeers);
  if (meta.learners !== undefined && meta.learners.length > 0)
    conf.learners = canonicalPeerKeys(meta.learners);
  if (meta.oldLearners !== undefined && meta.oldLearners.length > 0)
    conf.oldLearners = canonicalPeerKeys(meta.oldLearners);
  return { lastIncludedIndex: meta.lastIncludedIndex, lastIncludedTerm: meta.lastIncludedTerm, conf };
}

export function toSnapshotMeta(data: SnapshotMetaData): SnapshotMeta {
  return {
    lastIncludedIndex: data.lastIncludedIndex,
    lastIncludedTerm: data.lastIncludedTerm,
    peers: data.conf.peers,
    oldPeers: data.conf.oldPeers,
    learners: data.conf.learners,
    oldLearners: data.conf.oldLearners,
  };
}
