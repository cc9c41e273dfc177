/**
 * One node's side of quiescence (core/quiesce.ts, docs/quiescence.md): it carries the core's
 * Quiesce messages over the host's LivenessService, registers a quiet group with the host's
 * ProcessLiveness (so the process it depends on is watched for it, with no timer of its own),
 * and wakes the core when that process goes silent or restarts. A quiet follower that wakes
 * for any other reason asks its leader's process to wake the leader too (docs/quiescence.md,
 * "Stray wakes"). A node on a host without liveness never quiesces (the core is configured so)
 * and this object does nothing.
 */
import type { CoreEvent } from "../core/events.js";
import type { InboundRequest, QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import { quiesceAnswerChangesNothing } from "../core/quiesce.js";
import { quorumVoteResult } from "../core/quorum.js";
import type { RaftCore } from "../core/raft.js";
import type { PeerKey } from "../core/types.js";
import { endpointOfPeer } from "../util/peer-text.js";
import type { ProcessLiveness, QuietMember } from "./process-liveness.js";

/** What the quiescence of a node needs of the node. */
export interface QuiescenceHost {
  readonly groupId: string;
  readonly self: PeerKey;
  readonly electionTimeoutMs: number;
  readonly rpcTimeoutMs: number;
  nowMs(): number;
  /** Runs an input through the core (RunningNode.withCore). */
  withCore(step: (core: RaftCore) => void): void;
}

type QuiescedEvent = Extract<CoreEvent, { type: "quiesced" }>;

/** A follower's quiet: under which leader and term, and its liveness member key. */
interface QuietFollower {
  readonly leaderId: PeerKey;
  readonly term: number;
  readonly key: string;
}

export class NodeQuiescence {
  /** Removes the quiet group from the liveness; set while the group is quiet here. */
  #removeQuiet: (() => void) | undefined;
  /** Endpoints of the peers this node's liveness watches, for the configuration `#watchedConf`. */
  #watched: string[] = [];
  #watchedConf: unknown;
  /** The quiet leader's followers' endpoints and its member key, for a "gone" notice. */
  #quietLeader: { readonly key: string; readonly endpoints: readonly string[] } | undefined;
  /** The leader this follower went quiet under, until it wakes: asked to wake too, unless lost. */
  #quietFollower: QuietFollower | undefined;

  constructor(
    private readonly liveness: ProcessLiveness | undefined,
    private readonly host: QuiescenceHost,
  ) {}

  /** The configuration may have changed: the liveness watches the processes of its peers. */
  watchPeers(core: RaftCore): void {
    const liveness = this.liveness;
    if (liveness === undefined) return;
    const last = core.confs.last();
    if (last === this.#watchedConf) return;
    this.#watchedConf = last;
    const { peers, learners = [] } = last.conf;
    const endpoints = [...new Set([...peers, ...learners].map(endpointOfPeer))];
    for (const endpoint of endpoints) liveness.watch(endpoint, this.host.electionTimeoutMs);
    for (const endpoint of this.#watched) liveness.unwatch(endpoint);
    this.#watched = endpoints;
  }

  /** The core's quiesced / woke events. */
  onEvent(event: CoreEvent, core: RaftCore): void {
    if (event.type === "woke") this.#woke(core);
    else if (event.type === "quiesced") this.#quiesced(event, core);
  }

  /**
   * An input from a peer arrives for a quiet follower: it wakes with its leader's process's
   * last sign of life as its last contact with the leader (the follower lease counts from it).
   * Woken by an append of its leader with entries past its log, it does not ask that leader to
   * wake (#woke): the leader quiesced with this log, so it sent those entries awake, and it will
   * quiesce this follower again or heartbeat. The ask would arrive after that quiescence (one
   * heartbeat after a write) and wake the group for nothing, every write. A duplicate of an old
   * append or heartbeat carries nothing new: that follower asks, as for any stray wake.
   */
  beforeRequest(core: RaftCore, input: InboundRequest): void {
    if (!core.quiet || this.liveness === undefined || core.role !== "follower" || core.leaderId === "")
      return;
    if (isNewAppendFromLeader(core, input)) this.#quietFollower = undefined;
    const heardAtMs = this.liveness.lastHeardMs(endpointOfPeer(core.leaderId));
    core.wake(this.host.nowMs(), { leaderHeardAtMs: heardAtMs });
  }

  /** Follower side of tsraft's quiesce RPC. */
  serveQuiesce(request: QuiesceRequest, core: RaftCore): QuiesceResponse {
    return core.stepQuiesce(request, this.host.nowMs());
  }

  /** The node stops (shutdown or ERROR): a quiet leader's followers elect without waiting. */
  stop(core: RaftCore): void {
    const gone = this.#quietLeader;
    if (gone !== undefined && core.quiet) this.liveness?.leaderGone(gone.key, gone.endpoints);
    this.#forgetQuiet();
    for (const endpoint of this.#watched) this.liveness?.unwatch(endpoint);
    this.#watched = [];
    this.#watchedConf = undefined;
  }

  /**
   * The group went quiet here. A follower's event may be read after the follower already woke
   * again (both in one Ready): it is still remembered, so the "woke" that follows asks the leader.
   */
  #quiesced(event: QuiescedEvent, core: RaftCore): void {
    const liveness = this.liveness;
    if (liveness === undefined) return;
    this.#forgetQuiet();
    const key = `${this.host.groupId}\u0000${event.leaderId}`;
    const leading = event.leaderId === this.host.self;
    const endpoints = leading
      ? [...new Set(event.requests.map((request) => endpointOfPeer(request.peerId)))]
      : [endpointOfPeer(event.leaderId)];
    if (!leading) this.#quietFollower = { leaderId: event.leaderId, term: event.term, key };
    if (!core.quiet) return;
    const member: QuietMember = {
      key,
      electionTimeoutMs: this.host.electionTimeoutMs,
      wake: (leaderLost, leaderHeardAtMs) => {
        // A lost leader's process is not asked to wake it: this follower elects instead.
        if (leaderLost) this.#quietFollower = undefined;
        this.host.withCore((c) => c.wake(this.host.nowMs(), { leaderLost, leaderHeardAtMs }));
      },
      ...(leading ? { outlives: liveQuorumWithout(liveness, core.confs.last().conf.peers) } : {}),
    };
    this.#removeQuiet = liveness.addQuiet(member, endpoints, !leading);
    if (!leading) return;
    // Followers left out as dead (not asked to quiesce): their return wakes this leader.
    const dead = this.#watched.filter((endpoint) => !endpoints.includes(endpoint));
    const removeLive = this.#removeQuiet;
    const removeDead = liveness.addQuietUntilHeard(member, dead);
    this.#removeQuiet = () => {
      removeLive();
      removeDead();
    };
    this.#quietLeader = { key, endpoints };
    for (const request of event.requests) this.#sendQuiesce(liveness, event.term, request);
  }

  #sendQuiesce(liveness: ProcessLiveness, term: number, request: QuiesceRequest): void {
    const answer = (response: QuiesceResponse | undefined): void => {
      // The common answer: no input, and no drive of the leader for it.
      if (quiesceAnswerChangesNothing(term, response)) return;
      this.host.withCore((core) => core.onQuiesceAnswer(term, response, this.host.nowMs()));
    };
    // A failed call (the peer is down, or braft) leaves the follower awake: so must the leader be.
    liveness.quiesce(request.peerId, request, this.host.rpcTimeoutMs).then(answer, () => answer(undefined));
  }

  /**
   * The group woke here. A follower still following the leader it went quiet under, in that
   * term, asks that leader's process to wake it: whatever woke this follower (a stray request, a
   * duplicate of an old heartbeat, an operator's call) may have left the leader quiet, and the
   * follower's election timer runs again. A leader already awake ignores the request.
   */
  #woke(core: RaftCore): void {
    const follower = this.#quietFollower;
    this.#forgetQuiet();
    if (follower === undefined || core.role !== "follower") return;
    if (core.leaderId !== follower.leaderId || core.term !== follower.term) return;
    this.liveness?.askLeaderToWake(endpointOfPeer(follower.leaderId), follower.key);
  }

  #forgetQuiet(): void {
    this.#removeQuiet?.();
    this.#removeQuiet = undefined;
    this.#quietLeader = undefined;
    this.#quietFollower = undefined;
  }
}

/**
 * For a quiet leader with voters `voters` (no change is in progress while quiet): whether the
 * voters on live processes, the silent `endpoint` left out, still make a quorum. A quiet leader
 * renews no lease (docs/quiescence.md), so staying quiet changes no lease; without a quorum it
 * wakes, and check-quorum steps it down.
 */
function liveQuorumWithout(
  liveness: ProcessLiveness,
  voters: readonly PeerKey[],
): (endpoint: string) => boolean {
  const sets = { current: voters, old: [] };
  return (silent) => {
    const isLive = (peer: PeerKey): true | undefined => {
      const endpoint = endpointOfPeer(peer);
      return endpoint !== silent && !liveness.isDead(endpoint) ? true : undefined;
    };
    return quorumVoteResult(sets, isLive) === "won";
  };
}

/** Whether `input` is an append of the leader `core` follows, in its term, past its log's end. */
function isNewAppendFromLeader(core: RaftCore, input: InboundRequest): boolean {
  if (input.kind !== "append") return false;
  const { serverId, term, prevLogIndex, entries } = input.request;
  return (
    serverId === core.leaderId && term === core.term && prevLogIndex + entries.length > core.log.lastIndex()
  );
}
