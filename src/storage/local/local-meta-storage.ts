/**
 * The `local://` RaftMetaStorage: braft's `<path>/raft_meta`, a StablePBMeta {term, votedfor} in
 * ProtoBufFile format, replaced atomically (temp file, fsync, rename, directory fsync) so a crash
 * leaves the old or the new state, never a mix.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { RaftError } from "../../core/errors.js";
import type { HardState } from "../../core/types.js";
import type { RaftMetaStorage } from "../interfaces.js";
import { checkHardState } from "../memory-meta-storage.js";
import { decodeFile, ioError, loadProtoBufFile, saveProtoBufFile } from "./fs-util.js";
import { resolveLocalOptions, type LocalStorageOptions, type ResolvedLocalOptions } from "./options.js";
import { decodeStableMeta, encodeStableMeta } from "./pb-codec.js";
import { openStorageDirectory, type StorageDirectory } from "./storage-dir.js";

/** braft's file name for the raft meta. */
export const RAFT_META_FILE = "raft_meta";

export class LocalRaftMetaStorage implements RaftMetaStorage {
  private readonly opts: ResolvedLocalOptions;
  private readonly file: string;
  private current: HardState = { term: 0, votedFor: "" };
  private state: "new" | "open" | "closed" = "new";
  /** Writes run one at a time: two concurrent saves would share the temp file. */
  private tail: Promise<void> = Promise.resolve();
  /** The locked directory, from init to close. */
  private directory: StorageDirectory | undefined;

  /** @param path the directory holding raft_meta (braft's raft_meta_uri path). */
  constructor(
    readonly path: string,
    options: LocalStorageOptions = {},
  ) {
    this.opts = resolveLocalOptions(options);
    this.file = join(path, RAFT_META_FILE);
  }

  /** Loads raft_meta; a missing file is a fresh node (term 0, no vote), a corrupt one an error. */
  async init(): Promise<void> {
    if (this.state !== "new")
      throw new RaftError("EINVAL", `raft meta storage ${this.path} was already initialized`);
    const directory = await openStorageDirectory(this.path, "raft meta", this.opts);
    try {
      await rm(`${this.file}.tmp`, { force: true }).catch((err: unknown) => {
        throw ioError("remove", `${this.file}.tmp`, err);
      });
      const bytes = await loadProtoBufFile(this.file);
      if (bytes !== undefined) this.current = decodeFile(this.file, bytes, decodeStableMeta);
    } catch (error) {
      await directory.release();
      throw error;
    }
    this.directory = directory;
    this.state = "open";
  }

  getTermAndVotedFor(): HardState {
    return this.current;
  }

  async setTermAndVotedFor(state: HardState): Promise<void> {
    if (this.state !== "open")
      throw new RaftError("EINVAL", `raft meta storage ${this.path} is ${this.state}`);
    checkHardState(state);
    const copy: HardState = { term: state.term, votedFor: state.votedFor };
    const write = this.tail.then(async () => {
      await saveProtoBufFile(this.file, encodeStableMeta(copy), this.opts.syncMeta);
      this.current = copy;
    });
    this.tail = write.catch(() => undefined);
    return write;
  }

  /** Waits for pending writes. Idempotent. */
  async close(): Promise<void> {
    this.state = "closed";
    await this.tail;
    await this.directory?.release();
    this.directory = undefined;
  }
}
