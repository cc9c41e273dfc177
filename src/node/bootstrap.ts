/**
 * braft's `bootstrap`: creates a node's storage for a new group from existing state, so the
 * group starts from a known configuration (and, with `lastLogIndex`, from the state machine's
 * current data) instead of from `initialConf` and an empty log.
 */
import { RaftError } from "../core/errors.js";
import { EMPTY_DATA, EntryType, type ConfigurationData } from "../core/types.js";
import type { LogStorage, RaftMetaStorage } from "../storage/interfaces.js";
import type { SnapshotStorage } from "../storage/snapshot-storage.js";
import { logStorageOf, metaStorageOf, snapshotStorageOf, type StorageChoice } from "./node-init.js";
import { Configuration } from "./peer-id.js";
import type { StateMachine } from "./state-machine.js";
import { Status } from "./closure.js";

/** The term every bootstrapped node starts in; the first election moves past it. */
const BOOTSTRAP_TERM = 1;

export interface BootstrapOptions extends StorageChoice {
  /** The group's configuration; every peer must be bootstrapped with the same one. */
  readonly groupConf: Configuration | string;
  /**
   * The index the state machine's current data stands for (0: none). When positive, a snapshot
   * of the state machine is saved at it (through `onSnapshotSave`) and the log continues after it.
   */
  readonly lastLogIndex?: number | undefined;
  /** Needed when `lastLogIndex` is positive. */
  readonly fsm?: StateMachine | undefined;
}

/**
 * Writes a new node's storage: term 1, optionally a snapshot at `lastLogIndex`, and the group's
 * configuration as entry `lastLogIndex + 1`. Rejects with EEXIST when the storage already holds
 * a log or a term, EINVAL for bad options. Start the node afterwards with `init` (no initialConf).
 */
export async function bootstrap(options: BootstrapOptions): Promise<void> {
  const conf = Configuration.from(options.groupConf);
  const lastLogIndex = options.lastLogIndex ?? 0;
  if (conf.isEmpty()) throw new RaftError("EINVAL", "bootstrap needs a non-empty groupConf");
  if (!Number.isSafeInteger(lastLogIndex) || lastLogIndex < 0) {
    throw new RaftError("EINVAL", `lastLogIndex must be a non-negative integer, got ${lastLogIndex}`);
  }
  // One owner for the three storages: they may share a directory; any node is refused meanwhile.
  const storageOptions = { owner: {} };
  const log = logStorageOf(options, storageOptions);
  const meta = metaStorageOf(options, storageOptions);
  const snapshots = lastLogIndex > 0 ? snapshotStorageOf(options, storageOptions) : undefined;
  try {
    await Promise.all([log.init(() => undefined), meta.init(), snapshots?.init()]);
    await refuseExistingState(log, meta);
    const data: ConfigurationData = { peers: conf.peerKeys(), learners: conf.learnerKeys() };
    if (lastLogIndex > 0) await saveInitialSnapshot(snapshots, options.fsm, lastLogIndex, data);
    if (lastLogIndex > 0) await log.reset(lastLogIndex + 1);
    const entry = {
      index: lastLogIndex + 1,
      term: BOOTSTRAP_TERM,
      type: EntryType.CONFIGURATION,
      data: EMPTY_DATA,
      conf: data,
    };
    await log.appendEntries([entry]);
    await meta.setTermAndVotedFor({ term: BOOTSTRAP_TERM, votedFor: "" });
  } finally {
    await Promise.all([log.close(), meta.close(), snapshots?.close?.()]);
  }
}

async function refuseExistingState(log: LogStorage, meta: RaftMetaStorage): Promise<void> {
  if (log.lastLogIndex() > 0 || meta.getTermAndVotedFor().term > 0) {
    throw new RaftError("EEXIST", "cannot bootstrap a node whose storage already holds a log or a term");
  }
  return Promise.resolve();
}

async function saveInitialSnapshot(
  storage: SnapshotStorage | undefined,
  fsm: StateMachine | undefined,
  lastLogIndex: number,
  conf: ConfigurationData,
): Promise<void> {
  if (storage === undefined)
    throw new RaftError("EINVAL", "bootstrap with lastLogIndex > 0 needs snapshot storage");
  if (fsm?.onSnapshotSave === undefined) {
    throw new RaftError("EINVAL", "bootstrap with lastLogIndex > 0 needs an fsm implementing onSnapshotSave");
  }
  const writer = await storage.create();
  const status = await new Promise<Status>((resolve) => {
    Promise.resolve(fsm.onSnapshotSave?.(writer, { run: resolve })).catch((error: unknown) =>
      resolve(Status.error("ESTATEMACHINE", `onSnapshotSave threw: ${String(error)}`)),
    );
  });
  if (!status.ok()) {
    writer.setError(status.toError());
    await storage.closeWriter(writer).catch(() => undefined);
    throw status.toError();
  }
  writer.saveMeta({
    lastIncludedIndex: lastLogIndex,
    lastIncludedTerm: BOOTSTRAP_TERM,
    peers: conf.peers,
    learners: conf.learners,
  });
  await storage.closeWriter(writer);
}
