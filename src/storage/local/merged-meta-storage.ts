/**
 * braft's `local-merged://` and `local-mixed://` raft meta storages.
 *
 * `local-merged://<dir>`: every node of the process naming `<dir>` shares one MergedMetaFile,
 * each under its own key (braft: KVBasedMergedMetaStorage over one leveldb per disk path).
 *
 * `local-mixed://merged_path=<dir>&&single_path=<node dir>`: braft's MixedMetaStorage, the step
 * between the two forms (upgrade local -> mixed -> merged, downgrade merged -> mixed -> local).
 * Every write goes to both, the single file first; at open, the newer of the two is copied to the
 * other, so whichever form ran last, the node starts from its newest term and vote.
 */
import { RaftError } from "../../core/errors.js";
import type { HardState } from "../../core/types.js";
import type { RaftMetaStorage } from "../interfaces.js";
import { checkHardState } from "../memory-meta-storage.js";
import { LocalRaftMetaStorage } from "./local-meta-storage.js";
import { MergedMetaFile } from "./merged-meta-file.js";
import { resolveLocalOptions, type LocalStorageOptions } from "./options.js";

/** The merged files open in this process, by directory (braft's MetaStorageManager). */
const openFiles = new Map<string, Promise<MergedMetaFile>>();

async function acquireFile(path: string, options: LocalStorageOptions): Promise<MergedMetaFile> {
  let opening = openFiles.get(path);
  if (opening === undefined) {
    // The file outlives any one node: its own anonymous owner, so the lock names no node.
    const file = new MergedMetaFile(path, resolveLocalOptions({ ...options, owner: {} }));
    opening = file.open().then(() => file);
    openFiles.set(path, opening);
    opening.catch(() => openFiles.delete(path));
  }
  const file = await opening;
  file.users++;
  return file;
}

async function releaseFile(file: MergedMetaFile): Promise<void> {
  if (--file.users > 0) return;
  openFiles.delete(file.path);
  await file.close();
}

/**
 * The key of a node in a merged file: its group and its peer id. braft keys by
 * `<group>_<idx>`; the whole peer id keeps two peers of one group in one process apart.
 */
function keyOf(options: LocalStorageOptions, path: string): string {
  const { group, peer } = options.owner ?? {};
  if (group === undefined || peer === undefined) {
    throw new RaftError(
      "EINVAL",
      `local-merged://${path} holds the raft meta of many nodes: it needs the node's group and ` +
        "peer, which RaftNode.init passes (it cannot be opened on its own, nor by bootstrap)",
    );
  }
  return `${group}/${peer}`;
}

/** braft's KVBasedMergedMetaStorage: one node's view of a merged file. */
export class MergedRaftMetaStorage implements RaftMetaStorage {
  private file: MergedMetaFile | undefined;
  private state: "new" | "open" | "closed" = "new";
  private readonly key: string;

  /** @param path the directory of the merged file (braft's disk path). */
  constructor(
    readonly path: string,
    private readonly options: LocalStorageOptions = {},
  ) {
    this.key = keyOf(options, path);
  }

  async init(): Promise<void> {
    if (this.state !== "new")
      throw new RaftError("EINVAL", `raft meta storage ${this.path} was already initialized`);
    this.file = await acquireFile(this.path, this.options);
    this.state = "open";
  }

  getTermAndVotedFor(): HardState {
    return this.file?.get(this.key) ?? { term: 0, votedFor: "" };
  }

  async setTermAndVotedFor(state: HardState): Promise<void> {
    if (this.state !== "open" || this.file === undefined)
      throw new RaftError("EINVAL", `raft meta storage ${this.path} is ${this.state}`);
    checkHardState(state);
    await this.file.set(this.key, state);
  }

  /** braft's gc_instance: forgets this node's record (its group was removed from the process). */
  async destroy(): Promise<void> {
    if (this.state !== "open" || this.file === undefined)
      throw new RaftError("EINVAL", `raft meta storage ${this.path} is ${this.state}`);
    await this.file.delete(this.key);
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    const file = this.file;
    this.state = "closed";
    this.file = undefined;
    if (file !== undefined) await releaseFile(file);
  }
}

/** Parses braft's `merged_path=<dir>&&single_path=<dir>` (what follows `local-mixed://`). */
export function parseMixedPath(text: string): { mergedPath: string; singlePath: string } {
  const match = /^merged_path=(.+)&&single_path=(.+)$/.exec(text);
  if (match === null) {
    throw new RaftError(
      "EINVAL",
      `invalid local-mixed:// raft meta uri "${text}": expected merged_path=<dir>&&single_path=<dir>`,
    );
  }
  return { mergedPath: match[1] as string, singlePath: match[2] as string };
}

/** braft's MixedMetaStorage: writes both forms, starts from the newer. */
export class MixedRaftMetaStorage implements RaftMetaStorage {
  private readonly single: LocalRaftMetaStorage;
  private readonly merged: MergedRaftMetaStorage;

  constructor(singlePath: string, mergedPath: string, options: LocalStorageOptions = {}) {
    this.single = new LocalRaftMetaStorage(singlePath, options);
    this.merged = new MergedRaftMetaStorage(mergedPath, options);
  }

  /** Opens both and brings the older up to the newer (braft does it at the first read). */
  async init(): Promise<void> {
    await this.single.init();
    try {
      await this.merged.init();
      await this.reconcile();
    } catch (error) {
      await this.merged.close().catch(() => undefined);
      await this.single.close().catch(() => undefined);
      throw error;
    }
  }

  private async reconcile(): Promise<void> {
    const single = this.single.getTermAndVotedFor();
    const merged = this.merged.getTermAndVotedFor();
    if (single.term === merged.term && single.votedFor === merged.votedFor) return;
    if (single.term === merged.term && single.votedFor !== "" && merged.votedFor !== "") {
      // Two votes in one term: one of the files was changed outside of raft.
      throw new RaftError(
        "EINVAL",
        `raft meta conflict in term ${single.term}: ${this.single.path} voted for ${single.votedFor}, ` +
          `${this.merged.path} for ${merged.votedFor}`,
      );
    }
    const singleNewer = single.term > merged.term || (single.term === merged.term && single.votedFor !== "");
    if (singleNewer) await this.merged.setTermAndVotedFor(single);
    else await this.single.setTermAndVotedFor(merged);
  }

  getTermAndVotedFor(): HardState {
    return this.single.getTermAndVotedFor();
  }

  /** The single file first, then the merged one, as braft (a failure of either fails the write). */
  async setTermAndVotedFor(state: HardState): Promise<void> {
    await this.single.setTermAndVotedFor(state);
    await this.merged.setTermAndVotedFor(state);
  }

  async close(): Promise<void> {
    await Promise.all([this.single.close(), this.merged.close()]);
  }
}
