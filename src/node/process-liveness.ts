/**
 * Liveness per pair of processes (tsraft's LivenessService, docs/quiescence.md): what lets quiet
 * groups (core/quiesce.ts) cost nothing. One `ProcessLiveness` per server sends one heartbeat to
 * every peer server its nodes talk to, on one timer, however many groups they share; a quiet
 * follower needs no election timer of its own while its leader's process keeps answering.
 * When a peer process stays silent for an election timeout, or answers with a new incarnation
 * (it restarted), every quiet group here that depends on it wakes: followers of a leader there
 * elect, leaders with a follower there heartbeat again (and check-quorum runs) unless the rest
 * still make a quorum: then they stay quiet, as a leader that left a follower out because its
 * process was dead (`isDead`), and wake when that process is heard again, to catch it up.
 * Otherwise a process's death would wake every group with a follower there, thousands on a
 * many-groups process, all heartbeating a dead peer at once (the many-groups bench).
 *
 * A quiet follower here that wakes names its group in the next heartbeat to its leader's process,
 * which wakes that leader if it is still quiet (the follower woke alone: a stray request, an
 * operator's call); otherwise the follower would campaign against a healthy quiet leader an
 * election timeout later.
 *
 * A peer that answers ENOSYS (braft: no such service) is remembered as braft; groups with it
 * never quiesce and keep braft's per-group heartbeats.
 */
import { RaftError } from "../core/errors.js";
import type { QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { CancelTimer, Env } from "../env/env.js";
import { endpointOfPeer } from "../util/peer-text.js";
import type { LivenessHeartbeat, LivenessTransport } from "./ports.js";

/** A quiet group on this process, as the liveness sees it. */
export interface QuietMember {
  /** `groupId \0 leader PeerKey`: a leader's "gone" notice names it. */
  readonly key: string;
  /** The node's election timeout: silence this long from a process it depends on wakes it. */
  readonly electionTimeoutMs: number;
  /** Wakes the group; `leaderLost` when the leader's process (or the leader) is gone. */
  wake(leaderLost: boolean, leaderHeardAtMs: number | undefined): void;
  /**
   * A quiet leader: whether it may stay quiet now that the follower process on `endpoint` is
   * silent (the leader and its followers' live processes still make a quorum). It then waits
   * for that process to be heard again, as a follower left out when quiescing (`addQuietUntilHeard`).
   */
  outlives?(endpoint: string): boolean;
}

/** What this process knows of one peer process. */
interface PeerProcess {
  /** How many nodes here have a peer there. */
  users: number;
  speaks: "unknown" | "tsraft" | "braft";
  /** Last time it answered, or its heartbeat arrived (minus infinity: never). */
  lastHeardMs: number;
  /** When this process began to watch it: "never heard" counts as silence from then. */
  readonly sinceMs: number;
  /** Its incarnation as last heard; a change means it restarted. */
  incarnation: number | undefined;
  inflight: boolean;
  /** Quiet groups here that depend on it, by member key, with the role they wait on it in. */
  readonly quiet: Map<string, { member: QuietMember; onLeader: boolean }>;
  /** Quiet leaders here that left a follower there out as dead: woken when it is heard again. */
  readonly returning: Map<string, QuietMember>;
  /** Quiet groups led here that stopped leading: told to the peer with the next heartbeat. */
  gone: string[];
  /** Quiet groups led there whose follower here woke alone: told with the next heartbeat. */
  wakes: Set<string>;
}

/** The election timeout the liveness assumes before any node says otherwise. */
const DEFAULT_ELECTION_TIMEOUT_MS = 1000;
/**
 * Heartbeats per election timeout. A lost one or two wake nothing. A quiet follower notices its
 * leader's process is gone within its election timeout plus two periods, so at 8 per timeout it
 * elects about as soon as a busy follower would (at 4, 1,000 groups re-elected a quarter of a
 * timeout later at the median). The cost is per pair of servers, not per group.
 */
const HEARTBEATS_PER_TIMEOUT = 8;

export class ProcessLiveness {
  /** Drawn at start: peers that see a new one know this process restarted. */
  readonly incarnation: number;
  readonly #env: Env;
  readonly #transport: LivenessTransport;
  readonly #selfEndpoint: () => string;
  readonly #peers = new Map<string, PeerProcess>();
  /** The shortest election timeout of the nodes here: the heartbeat runs four times per it. */
  #electionTimeoutMs = Number.POSITIVE_INFINITY;
  #cancelTimer: CancelTimer | undefined;
  /** Set while a quiet group here may wake before the next heartbeat (`#armSilenceCheck`). */
  #cancelSilenceCheck: CancelTimer | undefined;
  #stopped = false;

  constructor(env: Env, transport: LivenessTransport, selfEndpoint: () => string) {
    this.#env = env;
    this.#transport = transport;
    this.#selfEndpoint = selfEndpoint;
    this.incarnation = Math.floor(env.random() * 2 ** 48) + 1;
  }

  /** A node here has a peer on `endpoint`: heartbeat it from now on (until `unwatch`). */
  watch(endpoint: string, electionTimeoutMs: number): void {
    if (endpoint === this.#selfEndpoint()) return;
    this.#electionTimeoutMs = Math.min(this.#electionTimeoutMs, electionTimeoutMs);
    const peer = this.#peers.get(endpoint) ?? this.#newPeer(endpoint);
    peer.users++;
    this.#arm();
  }

  unwatch(endpoint: string): void {
    const peer = this.#peers.get(endpoint);
    if (peer === undefined) return;
    peer.users--;
    if (peer.users <= 0 && peer.quiet.size === 0 && peer.returning.size === 0) this.#peers.delete(endpoint);
  }

  /** Whether groups with a peer on `endpoint` may quiesce: it speaks tsraft's extension and answers. */
  mayQuiesceWith(endpoint: string): boolean {
    if (endpoint === this.#selfEndpoint()) return true;
    const peer = this.#peers.get(endpoint);
    return peer?.speaks === "tsraft" && this.#env.nowMs() - peer.lastHeardMs < this.#timeoutMs();
  }

  /**
   * Whether the process on `endpoint` is dead as far as quiescence goes: a tsraft (or not yet
   * known) process silent for an election timeout, counting from when it was first watched if it
   * never answered. A braft process is never dead here (its groups never quiesce anyway).
   */
  isDead(endpoint: string): boolean {
    if (endpoint === this.#selfEndpoint()) return false;
    const peer = this.#peers.get(endpoint);
    if (peer === undefined || peer.speaks === "braft") return false;
    return this.#env.nowMs() - Math.max(peer.lastHeardMs, peer.sinceMs) >= this.#timeoutMs();
  }

  /** When `endpoint` last answered (minus infinity if never, or unknown). */
  lastHeardMs(endpoint: string): number {
    if (endpoint === this.#selfEndpoint()) return this.#env.nowMs();
    return this.#peers.get(endpoint)?.lastHeardMs ?? Number.NEGATIVE_INFINITY;
  }

  /** The peer answered "no such service": a braft process. */
  markBraft(endpoint: string): void {
    const peer = this.#peers.get(endpoint);
    if (peer !== undefined) peer.speaks = "braft";
  }

  /**
   * A group went quiet here: it waits on the processes `endpoints` (a follower: its leader's,
   * `onLeader`; a leader: its followers'). Returns the function that removes it again.
   */
  addQuiet(member: QuietMember, endpoints: readonly string[], onLeader: boolean): () => void {
    const held: PeerProcess[] = [];
    for (const endpoint of endpoints) {
      if (endpoint === this.#selfEndpoint()) continue;
      const peer = this.#peers.get(endpoint) ?? this.#newPeer(endpoint);
      peer.quiet.set(member.key, { member, onLeader });
      held.push(peer);
    }
    return () => {
      for (const peer of held) {
        peer.quiet.delete(member.key);
        peer.returning.delete(member.key); // moved there if the process went silent (#checkSilence)
      }
    };
  }

  /**
   * A quiet leader here left out its followers on `endpoints` as dead: it wakes as soon as any
   * of them is heard again (a heartbeat or an answer, restarted or not), so it catches that
   * follower up. Returns the function that removes it again.
   */
  addQuietUntilHeard(member: QuietMember, endpoints: readonly string[]): () => void {
    const held: PeerProcess[] = [];
    for (const endpoint of endpoints) {
      if (endpoint === this.#selfEndpoint()) continue;
      const peer = this.#peers.get(endpoint) ?? this.#newPeer(endpoint);
      peer.returning.set(member.key, member);
      held.push(peer);
    }
    return () => {
      for (const peer of held) peer.returning.delete(member.key);
    };
  }

  /** A leader's Quiesce to follower `to`; a braft peer (ENOSYS) is remembered as such. */
  quiesce(to: PeerKey, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse> {
    return this.#transport.quiesce(to, request, timeoutMs).catch((error: unknown) => {
      if (RaftError.is(error) && error.code === "ENOSYS") this.markBraft(endpointOfPeer(to));
      throw error;
    });
  }

  /** A quiet group led here stopped (its node failed or stopped): its followers there elect. */
  leaderGone(memberKey: string, endpoints: readonly string[]): void {
    for (const endpoint of endpoints) this.#peers.get(endpoint)?.gone.push(memberKey);
    this.#sendAll();
  }

  /**
   * A quiet follower here woke while its leader, on `endpoint`, may still be quiet: the leader
   * (member key `memberKey`) is asked to wake with the next heartbeat, within an eighth of an
   * election timeout, so its heartbeats reach the follower long before its election timer runs
   * out. Not sent at once: most wakes are a leader's own appends (a write), and a call per wake
   * would add an RPC per write on a busy process; the next heartbeat costs a few bytes more.
   */
  askLeaderToWake(endpoint: string, memberKey: string): void {
    const peer = this.#peers.get(endpoint);
    if (peer === undefined || peer.speaks === "braft") return;
    peer.wakes.add(memberKey);
  }

  /** A peer's heartbeat arrived (LivenessService.heartbeat): it is alive; answers with ours. */
  onHeartbeat(request: LivenessHeartbeat): { incarnation: number } {
    const peer = this.#peers.get(request.from);
    if (peer !== undefined) {
      peer.speaks = "tsraft";
      this.#heard(peer, request.incarnation);
      for (const key of request.goneLeaders) peer.quiet.get(key)?.member.wake(true, undefined);
      for (const key of request.wakeLeaders) this.#wakeLeader(peer, key);
    }
    return { incarnation: this.incarnation };
  }

  /** A follower on `peer` asked its quiet leader here to wake (a leader, never a follower here). */
  #wakeLeader(peer: PeerProcess, memberKey: string): void {
    const entry = peer.quiet.get(memberKey);
    if (entry === undefined || entry.onLeader) return;
    entry.member.wake(false, undefined);
  }

  /** Stops the heartbeat (the server stops). */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#cancelSilenceCheck?.();
    this.#cancelSilenceCheck = undefined;
  }

  #newPeer(endpoint: string): PeerProcess {
    const peer: PeerProcess = {
      users: 0,
      speaks: "unknown",
      lastHeardMs: Number.NEGATIVE_INFINITY,
      sinceMs: this.#env.nowMs(),
      incarnation: undefined,
      inflight: false,
      quiet: new Map(),
      returning: new Map(),
      gone: [],
      wakes: new Set(),
    };
    this.#peers.set(endpoint, peer);
    return peer;
  }

  #timeoutMs(): number {
    return Number.isFinite(this.#electionTimeoutMs) ? this.#electionTimeoutMs : DEFAULT_ELECTION_TIMEOUT_MS;
  }

  #periodMs(): number {
    return Math.max(1, Math.floor(this.#timeoutMs() / HEARTBEATS_PER_TIMEOUT));
  }

  #arm(): void {
    if (this.#cancelTimer !== undefined || this.#stopped || this.#peers.size === 0) return;
    const periodMs = this.#periodMs();
    this.#cancelTimer = this.#env.setTimer(() => {
      this.#cancelTimer = undefined;
      this.#sendAll();
      this.#checkSilence();
      this.#arm();
      this.#armSilenceCheck();
    }, periodMs);
  }

  /**
   * Checks silence again when the next quiet group here may wake, if that comes before the next
   * heartbeat. Checked only with the heartbeats, a group would wake up to a whole period (an
   * eighth of an election timeout) after its silence ran out: thousands of groups elect after a
   * process dies, and every one of them would start that much later (the many-groups bench
   * times them in election timeouts). The thresholds are the liveness's shortest election
   * timeout, plus one period for followers; a node with a longer timeout waits for the
   * heartbeats.
   */
  #armSilenceCheck(): void {
    this.#cancelSilenceCheck?.();
    this.#cancelSilenceCheck = undefined;
    if (this.#stopped) return;
    const nowMs = this.#env.nowMs();
    const periodMs = this.#periodMs();
    let nextMs = nowMs + periodMs;
    for (const peer of this.#peers.values()) {
      if (peer.quiet.size === 0) continue;
      const leadersWakeMs = peer.lastHeardMs + this.#timeoutMs();
      for (const wakeMs of [leadersWakeMs, leadersWakeMs + periodMs])
        if (wakeMs > nowMs && wakeMs < nextMs) nextMs = wakeMs;
    }
    if (nextMs >= nowMs + periodMs) return; // the heartbeat timer checks by then
    // One millisecond late: a timer never fires early, but the clock it is read by may round.
    this.#cancelSilenceCheck = this.#env.setTimer(
      () => {
        this.#cancelSilenceCheck = undefined;
        this.#checkSilence();
        this.#armSilenceCheck();
      },
      nextMs - nowMs + 1,
    );
  }

  #sendAll(): void {
    for (const [endpoint, peer] of this.#peers) {
      if (peer.speaks !== "braft" && !peer.inflight) this.#send(endpoint, peer);
    }
  }

  #send(endpoint: string, peer: PeerProcess): void {
    const goneLeaders = peer.gone;
    const wakeLeaders = [...peer.wakes];
    peer.gone = [];
    peer.wakes.clear();
    peer.inflight = true;
    const request = { from: this.#selfEndpoint(), incarnation: this.incarnation, goneLeaders, wakeLeaders };
    this.#transport.heartbeat(endpoint, request, this.#timeoutMs()).then(
      (ack) => {
        peer.inflight = false;
        peer.speaks = "tsraft";
        this.#heard(peer, ack.incarnation);
      },
      (error: unknown) => {
        peer.inflight = false;
        if (RaftError.is(error) && error.code === "ENOSYS") peer.speaks = "braft";
        else this.#tellAgain(peer, goneLeaders, wakeLeaders);
      },
    );
  }

  /** A heartbeat failed: its notices go with the next one. */
  #tellAgain(peer: PeerProcess, goneLeaders: readonly string[], wakeLeaders: readonly string[]): void {
    peer.gone.push(...goneLeaders);
    for (const key of wakeLeaders) peer.wakes.add(key);
  }

  #heard(peer: PeerProcess, incarnation: number): void {
    if (peer.incarnation !== undefined && peer.incarnation !== incarnation) this.#wakeAll(peer, true);
    peer.incarnation = incarnation;
    peer.lastHeardMs = Math.max(peer.lastHeardMs, this.#env.nowMs());
    this.#wakeReturning(peer);
  }

  /** A process a quiet leader left out as dead was heard: the leader wakes to catch it up. */
  #wakeReturning(peer: PeerProcess): void {
    if (peer.returning.size === 0) return;
    const members = [...peer.returning.values()];
    peer.returning.clear();
    for (const member of members) member.wake(false, undefined);
  }

  /**
   * Wakes the quiet groups that depend on a process silent for their election timeout. A
   * follower of a leader there waits one heartbeat period more: the other followers may have
   * heard that process up to a period later, and their follower leases run from then; a
   * pre-vote sent before those end is refused and costs a whole election timeout.
   */
  #checkSilence(): void {
    const nowMs = this.#env.nowMs();
    for (const [endpoint, peer] of this.#peers) {
      if (peer.quiet.size === 0) continue;
      const silentMs = nowMs - peer.lastHeardMs;
      if (silentMs < this.#timeoutMs()) continue;
      for (const { member, onLeader } of [...peer.quiet.values()]) {
        const waitMs = member.electionTimeoutMs + (onLeader ? this.#periodMs() : 0);
        if (silentMs < waitMs) continue;
        peer.quiet.delete(member.key);
        if (!onLeader && member.outlives?.(endpoint) === true) peer.returning.set(member.key, member);
        else member.wake(onLeader, peer.lastHeardMs);
      }
    }
  }

  /** The process restarted: whatever was quiet on its account wakes. */
  #wakeAll(peer: PeerProcess, restarted: boolean): void {
    for (const { member, onLeader } of [...peer.quiet.values()]) {
      peer.quiet.delete(member.key);
      member.wake(onLeader && restarted, peer.lastHeardMs);
    }
  }
}
