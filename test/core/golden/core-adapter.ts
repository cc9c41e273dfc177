/**
 * The one place where the golden harness touches `RaftCore`'s API. The harness speaks in the
 * terms below (inputs, a Ready, the commit point to apply, a status view); an API change of the
 * core changes this file only, so the golden files stay a record of behaviour.
 */
import { ConfigurationManager } from "../../../src/core/configuration.js";
import type { RaftError } from "../../../src/core/errors.js";
import type { Ready, Send } from "../../../src/core/events.js";
import type {
  InboundRequest,
  InstallSnapshotResult,
  PeerResponse,
  QuiesceRequest,
  QuiesceResponse,
  Reply,
  SnapshotMetaData,
} from "../../../src/core/messages.js";
import { RaftCore } from "../../../src/core/raft.js";
import type { LogReader } from "../../../src/core/raft-log.js";
import {
  EntryType,
  type ConfigurationData,
  type HardState,
  type PeerKey,
  type Role,
} from "../../../src/core/types.js";

export type {
  Ready,
  Send,
  Reply,
  InboundRequest,
  SnapshotMetaData,
  InstallSnapshotResult,
  PeerResponse,
  QuiesceRequest,
};

/** The knobs a golden file may set on `add-nodes`. */
export interface CoreOptions {
  readonly self: PeerKey;
  readonly conf: ConfigurationData;
  readonly leaderLeaseEnabled: boolean;
  readonly inflightAppendsMax: number;
  readonly appendEntriesMax: number;
  readonly stepDownWhenVoteTimedOut: boolean;
  readonly catchupMargin: number;
  /** quiesce.ts: a leader idle this long quiesces (0: never); every peer may quiesce. */
  readonly quiesceIdleMs: number;
  /** Whether a peer's process is dead to the liveness (quiescence leaves it out). */
  readonly isDead: (peer: PeerKey) => boolean;
}

/** A response a peer sent back, as the harness routes it to the core that asked. */
export type ResponseBody = PeerResponse["response"];

/** What a golden file prints about a follower's replication state. */
export interface ProgressView {
  readonly peer: PeerKey;
  readonly state: string;
  readonly match: number;
  readonly next: number;
  readonly inflight: number;
}

export interface StatusView {
  readonly role: Role;
  readonly term: number;
  readonly votedFor: PeerKey;
  readonly leaderId: PeerKey;
  readonly commit: number;
  readonly applied: number;
  readonly persisted: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly readonly: boolean;
  readonly conf: ConfigurationData;
  readonly progress: readonly ProgressView[];
  readonly changeStage: string | undefined;
  readonly transferTarget: PeerKey | undefined;
  readonly quiet: boolean;
}

const ELECTION_TIMEOUT_MS = 1000;
const HEARTBEAT_INTERVAL_MS = 100;

/** One core, driven the way the node shell drives it. */
export class CoreAdapter {
  private readonly core: RaftCore;
  /** The apply point of the latest Ready. */
  private applyThroughIndex = 0;

  constructor(options: CoreOptions, hardState: HardState, log: LogReader, nowMs: number) {
    const confs = new ConfigurationManager({ id: { index: 0, term: 0 }, conf: options.conf });
    this.core = new RaftCore(
      {
        groupId: "g",
        self: options.self,
        electionTimeoutMs: ELECTION_TIMEOUT_MS,
        maxElectionDelayMs: ELECTION_TIMEOUT_MS,
        heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
        maxClockDriftMs: ELECTION_TIMEOUT_MS,
        leaderLeaseEnabled: options.leaderLeaseEnabled,
        stepDownWhenVoteTimedOut: options.stepDownWhenVoteTimedOut,
        inflightAppendsMax: options.inflightAppendsMax,
        appendEntriesMax: options.appendEntriesMax,
        appendBytesMax: 1 << 20,
        catchupMargin: options.catchupMargin,
        catchupTimeoutMs: 0,
        quiesceIdleMs: options.quiesceIdleMs,
        quiescePeer: () => true,
        quiescePeerDead: options.isDead,
        // No jitter: every election timeout is exactly ELECTION_TIMEOUT_MS, so files read plainly.
        random: () => 0,
      },
      hardState,
      log,
      confs,
      nowMs,
    );
  }

  stepRequest(request: InboundRequest, replyId: number, nowMs: number): void {
    this.core.stepRequest(request, replyId, nowMs);
  }

  stepResponse(send: Send, response: PeerResponse, nowMs: number): void {
    this.core.stepResponse({ kind: "response", send, response }, nowMs);
  }

  stepFailure(send: Send, nowMs: number): void {
    this.core.stepResponse({ kind: "failure", send }, nowMs);
  }

  tick(nowMs: number): void {
    this.core.tick(nowMs);
  }

  stepQuiesce(request: QuiesceRequest, nowMs: number): QuiesceResponse {
    return this.core.stepQuiesce(request, nowMs);
  }

  onQuiesceAnswer(term: number, response: QuiesceResponse | undefined, nowMs: number): void {
    this.core.onQuiesceAnswer(term, response, nowMs);
  }

  /** Wakes a quiet group; `leaderLost`: its leader's process stopped answering (liveness). */
  wake(nowMs: number, leaderLost: boolean): void {
    this.core.wake(nowMs, { leaderLost });
  }

  get quiet(): boolean {
    return this.core.quiet;
  }

  nextDeadlineMs(): number {
    return this.core.nextDeadlineMs();
  }

  campaign(nowMs: number): void {
    this.core.campaign(nowMs);
  }

  propose(data: Uint8Array, nowMs: number): { index: number; term: number } | RaftError {
    const [result] = this.core.propose([{ type: EntryType.DATA, data }], nowMs);
    if (result === undefined) throw new Error("propose returned no result");
    return result;
  }

  readIndex(id: number, nowMs: number): RaftError | undefined {
    return this.core.readIndex(id, nowMs);
  }

  changePeers(conf: ConfigurationData, nowMs: number): RaftError | undefined {
    return this.core.changeConfiguration(conf, nowMs);
  }

  transferLeadership(target: PeerKey | undefined, nowMs: number): RaftError | undefined {
    return this.core.transferLeadership(target, nowMs);
  }

  setReadOnly(readonly: boolean): void {
    this.core.setReadOnly(readonly);
  }

  hasReady(): boolean {
    return this.core.hasReady();
  }

  takeReady(): Ready {
    const ready = this.core.takeReady();
    this.applyThroughIndex = ready.applyThroughIndex;
    return ready;
  }

  onPersisted(index: number, term: number, nowMs: number): void {
    this.core.onPersisted(index, term, nowMs);
  }

  /** How far the state machine may apply, as the latest Ready said (what the shell applies). */
  commitToApply(): number {
    return this.applyThroughIndex;
  }

  onApplied(index: number): void {
    this.core.onApplied(index);
  }

  finishInstall(replyId: number, meta: SnapshotMetaData | undefined, logReset: boolean): void {
    this.core.finishInstall(replyId, meta, logReset);
  }

  /** The configuration in force at `index` (what a snapshot through `index` records). */
  configurationAt(index: number): ConfigurationData {
    return this.core.confs.at(index).conf;
  }

  status(): StatusView {
    const core = this.core;
    return {
      role: core.role,
      term: core.term,
      votedFor: core.votedFor,
      leaderId: core.leaderId,
      commit: core.commitIndex,
      applied: core.appliedIndex,
      persisted: core.persistedIndex,
      firstIndex: core.log.firstIndex(),
      lastIndex: core.log.lastIndex(),
      readonly: core.isReadOnly(),
      quiet: core.quiet,
      conf: core.confs.last().conf,
      progress: [...core.progress].map(([peer, p]) => ({
        peer,
        state: p.state,
        match: p.matchIndex,
        next: p.nextIndex,
        inflight: p.inflight,
      })),
      changeStage: core.change?.stage,
      transferTarget: core.transfer?.target,
    };
  }
}
