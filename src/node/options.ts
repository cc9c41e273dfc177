/** NodeOptions: what `RaftNode.init` takes. */
import type { Env } from "../env/env.js";
import type { Logger } from "../env/logger.js";
import type { RaftHost, SnapshotThrottle } from "./ports.js";
import type { LogStorage, RaftMetaStorage } from "../storage/interfaces.js";
import type { FileSystemAdaptor } from "../storage/fs-adaptor.js";
import type { SnapshotStorage } from "../storage/snapshot-storage.js";
import type { RaftFlags } from "./flags.js";
import type { Configuration } from "./peer-id.js";
import type { StateMachine } from "./state-machine.js";

export interface NodeOptions {
  /** The replicated state machine. */
  readonly fsm: StateMachine;
  /** The server that carries this node's RPCs (a RaftServer, or an in-process or simulated host). */
  readonly server: RaftHost;
  /**
   * The configuration to start with when the log holds none (a new group). Ignored once the log
   * has a configuration entry, as in braft.
   */
  readonly initialConf?: Configuration | string | undefined;
  /** Followers start an election after this long without hearing from a leader (1000). */
  readonly electionTimeoutMs?: number | undefined;
  /** Allowance for clock drift between peers in lease arithmetic (1000). */
  readonly maxClockDriftMs?: number | undefined;
  /** Seconds between automatic snapshots; <= 0 disables them (3600). */
  readonly snapshotIntervalS?: number | undefined;
  /** How close a new peer's log must come to the leader's before it joins (1000 entries). */
  readonly catchupMargin?: number | undefined;
  /**
   * braft's catchup_timeout_ms: how long a configuration change waits for a new peer to come
   * within `catchupMargin`. At the end of each such period the wait is renewed while the peer is
   * alive (it answered within an election timeout) and making progress (its log advanced, or a
   * snapshot install to it is running and none was refused); otherwise the change fails with
   * ECATCHUP. 0 means the election timeout (braft's default, 0).
   */
  readonly catchupTimeoutMs?: number | undefined;
  /** Log storage by URI, e.g. `local://./data/log` or `memory://n1/log`. */
  readonly logUri?: string | undefined;
  /** Raft meta storage by URI. */
  readonly raftMetaUri?: string | undefined;
  /** Snapshot storage by URI. */
  readonly snapshotUri?: string | undefined;
  /** A log storage instance; takes precedence over logUri. */
  readonly logStorage?: LogStorage | undefined;
  /** A raft meta storage instance; takes precedence over raftMetaUri. */
  readonly raftMetaStorage?: RaftMetaStorage | undefined;
  /** A snapshot storage instance; takes precedence over snapshotUri. Without either, no snapshots. */
  readonly snapshotStorage?: SnapshotStorage | undefined;
  /**
   * braft's snapshot_file_system_adaptor: the file system the snapshot storage keeps its files
   * in (its meta, the files a follower copies in, the files the leader serves), e.g. one that
   * encrypts them. The state machine writes and reads its own files through
   * `writer.fileSystem` / `reader.fileSystem`. Default: the real file system. The storage must
   * take one (`local://` and `memory://` do); with another adaptor than the real file system the
   * `local://` directory is not locked.
   */
  readonly snapshotFileSystemAdaptor?: FileSystemAdaptor | undefined;
  /** On install, skip files the local snapshot already has with the same name and checksum. */
  readonly filterBeforeCopyRemote?: boolean | undefined;
  /** Limits the bandwidth of snapshot installs. */
  readonly snapshotThrottle?: SnapshotThrottle | undefined;
  /**
   * Log entries kept before a new snapshot's last index. Unset, braft's rule: the log is kept
   * back to the previous snapshot, so followers a little behind catch up without an install.
   */
  readonly snapshotLogMarginEntries?: number | undefined;
  /** Refuse CliService requests for this node. */
  readonly disableCli?: boolean | undefined;
  /**
   * braft's witness: this node votes and acknowledges entries but keeps no state machine (the
   * fsm hears role and configuration changes, never onApply or snapshot saves and loads). Its
   * PeerId must carry braft's witness role (`ip:port:idx:1`), as every configuration naming it
   * must. It never leads unless the flag raft_enable_witness_to_leader is set, and then only to
   * hand leadership to a full replica. See docs/witness.md for the risks of each setting.
   */
  readonly witness?: boolean | undefined;
  /** Per-node values of braft's flags, overriding the process-wide `flags`. */
  readonly flags?: Partial<RaftFlags> | undefined;
  /** Clock, timers and randomness; the simulator injects virtual ones. */
  readonly env?: Env | undefined;
  /**
   * This node's logger; defaults to its server's (RaftServerOptions.logger), then to the
   * process-wide one (setLogger). Every line carries the node's `group` and `peer`.
   */
  readonly logger?: Logger | undefined;
}
