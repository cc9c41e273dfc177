/**
 * braft's `braft::cli` (cli.h) as a library: the membership, snapshot and leadership operations
 * of braft's CliService (and tsraft's LearnerService), sent to a group's leader, which is found by
 * asking the peers. It is what the `tsraft` command runs, and speaks plain baidu_std, so it drives
 * braft (C++) nodes as well.
 */
import type { DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { RaftError } from "../core/errors.js";
import { ANY_PEER, Configuration, PeerId } from "../node/peer-id.js";
import { CliService } from "../rpc/gen/braft/cli_pb.js";
import { LearnerService } from "../rpc/gen/tsraft/cli_pb.js";
import type { ChannelOptions } from "../rpc/options.js";
import type { InputOf, MethodsOf, OutputOf } from "../rpc/service-registry.js";
import { callMethod } from "../rpc/typed-call.js";
import { channelPool, type ChannelProvider } from "./channels.js";
import { findLeader } from "./leader-lookup.js";

/** brpc's default ChannelOptions.timeout_ms, which braft's get_leader calls run with. */
const GET_LEADER_TIMEOUT_MS = 1000;
/** First wait before retrying a call that could not reach its server; doubles per retry. */
const RETRY_BACKOFF_MS = 50;

/** braft's CliOptions, plus what a Node client needs. */
export interface CliClientOptions {
  /** Per operation call; <= 0 waits forever (braft's CliOptions default, -1). */
  readonly timeoutMs?: number | undefined;
  /** Retries of a call that could not reach its server (EHOSTUNREACH), as brpc's max_retry (3). */
  readonly maxRetry?: number | undefined;
  /** Options of the channels (TLS, connect timeout); ignored when `channels` is given. */
  readonly channel?: ChannelOptions | undefined;
  /** Where the channels come from (default: a pool of its own, closed by close()). */
  readonly channels?: ChannelProvider | undefined;
}

/** Per operation: an AbortSignal that cancels it (ECANCELED). */
export interface CliCallOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * Which node to send a leader's operation to: the group's peers (`conf`, the leader is looked
 * up, as braft's cli.cpp does), or `{ leaderId }` when the caller knows it (a follower refuses
 * with EPERM).
 */
export type GroupTarget =
  Configuration | string | readonly (PeerId | string)[] | { readonly leaderId: PeerId | string };

/** A membership change's result: peer ids (`ip:port:idx`) as the leader reports them. */
export interface PeersChange {
  readonly oldPeers: readonly string[];
  readonly newPeers: readonly string[];
}

/** A learner change's result (tsraft's LearnerService). */
export interface LearnersChange {
  readonly oldLearners: readonly string[];
  readonly newLearners: readonly string[];
}

/**
 * The canonical ids (`ip:port:idx`) of a configuration given in any of its forms, each once, in
 * the order given (so errors list the peers as the caller wrote them). EINVAL for a bad id.
 */
export function peersOf(conf: Configuration | string | readonly (PeerId | string)[]): string[] {
  const items =
    conf instanceof Configuration ? conf.peers : typeof conf === "string" ? conf.split(",") : conf;
  const ids = items.filter((item) => String(item).trim() !== "").map((item) => PeerId.from(item).toString());
  return [...new Set(ids)];
}

/** Channels to a group's peers, and braft's CLI operations over them. */
export class CliClient {
  private readonly timeoutMs: number;
  private readonly maxRetry: number;
  private readonly channels: ChannelProvider;
  private readonly ownsChannels: boolean;

  constructor(options: CliClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? -1;
    this.maxRetry = Math.max(0, options.maxRetry ?? 3);
    this.ownsChannels = options.channels === undefined;
    this.channels =
      options.channels ?? channelPool({ reconnectBackoffMinMs: RETRY_BACKOFF_MS / 2, ...options.channel });
  }

  /**
   * Calls `service.method` (proto method name) on the server of `peer` (`ip:port[:idx]`),
   * retrying up to maxRetry times a call that could not reach it.
   */
  async call<S extends DescService, K extends keyof MethodsOf<S> & string>(
    peer: string,
    service: S,
    method: K,
    request: MessageInitShape<InputOf<MethodsOf<S>[K]>>,
    timeoutMs = this.timeoutMs,
    signal?: AbortSignal,
  ): Promise<MessageShape<OutputOf<MethodsOf<S>[K]>>> {
    const channel = this.channels.get(PeerId.parse(peer).endpoint);
    for (let attempt = 0; ; attempt++) {
      try {
        return (await callMethod(channel, service, method, request, { timeoutMs, signal })).response;
      } catch (error) {
        const unreachable = RaftError.is(error) && error.code === "EHOSTUNREACH";
        if (!unreachable || attempt >= this.maxRetry || signal?.aborted === true) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS * 2 ** attempt));
      }
    }
  }

  /**
   * The leader of `groupId` as the peers of `conf` see it (each asked about itself, all at
   * once): a peer naming itself wins, else the answer most peers give. Rejects with every
   * peer's answer when nobody names one.
   */
  async leaderOf(groupId: string, conf: readonly string[], signal?: AbortSignal): Promise<string> {
    if (conf.length === 0)
      throw new RaftError("EINVAL", "the configuration is empty", { outcome: "refused" });
    const timeoutMs = this.getLeaderTimeoutMs();
    return findLeader(groupId, conf, async (peerId) => {
      const response = await this.call(
        peerId,
        CliService,
        "get_leader",
        { groupId, peerId },
        timeoutMs,
        signal,
      );
      return response.leaderId;
    });
  }

  /** braft's cli::get_leader: the leader of the group `conf` names. */
  async getLeader(groupId: string, conf: GroupTarget, options: CliCallOptions = {}): Promise<PeerId> {
    return PeerId.parse(await this.leaderFor(groupId, conf, options.signal));
  }

  /** braft's cli::add_peer, through the leader. Adding a present peer succeeds at once. */
  addPeer(
    groupId: string,
    conf: GroupTarget,
    peer: PeerId | string,
    options: CliCallOptions = {},
  ): Promise<PeersChange> {
    const peerId = PeerId.from(peer).toString();
    return this.changeOnLeader("add_peer", groupId, conf, { groupId, peerId }, options);
  }

  /** braft's cli::remove_peer, through the leader. Removing an absent peer succeeds at once. */
  removePeer(
    groupId: string,
    conf: GroupTarget,
    peer: PeerId | string,
    options: CliCallOptions = {},
  ): Promise<PeersChange> {
    const peerId = PeerId.from(peer).toString();
    return this.changeOnLeader("remove_peer", groupId, conf, { groupId, peerId }, options);
  }

  /** braft's cli::change_peers: the group's peers become `newPeers`, through the leader. */
  changePeers(
    groupId: string,
    conf: GroupTarget,
    newPeers: Configuration | string | readonly (PeerId | string)[],
    options: CliCallOptions = {},
  ): Promise<PeersChange> {
    const request = { groupId, newPeers: peersOf(newPeers) };
    return this.changeOnLeader("change_peers", groupId, conf, request, options);
  }

  /**
   * braft's cli::reset_peer, on `peer` itself. UNSAFE (see RaftNode.resetPeers): only for a group
   * that lost its majority for good.
   */
  async resetPeer(
    groupId: string,
    peer: PeerId | string,
    newPeers: Configuration | string | readonly (PeerId | string)[],
    options: CliCallOptions = {},
  ): Promise<void> {
    const peerId = PeerId.from(peer).toString();
    const request = { groupId, peerId, newPeers: peersOf(newPeers) };
    await this.call(peerId, CliService, "reset_peer", request, undefined, options.signal);
  }

  /** braft's cli::snapshot: `peer` takes a snapshot now. */
  async snapshot(groupId: string, peer: PeerId | string, options: CliCallOptions = {}): Promise<void> {
    const peerId = PeerId.from(peer).toString();
    await this.call(peerId, CliService, "snapshot", { groupId, peerId }, undefined, options.signal);
  }

  /**
   * braft's cli::transfer_leader: to `peer`, or to the most up-to-date follower when it is
   * ANY_PEER or absent. Resolves with the leader it was sent to; when `peer` already leads,
   * nothing is sent (braft's cli.cpp).
   */
  async transferLeader(
    groupId: string,
    conf: GroupTarget,
    peer?: PeerId | string,
    options: CliCallOptions = {},
  ): Promise<PeerId> {
    const target = peer === undefined || ANY_PEER.equals(peer) ? undefined : PeerId.from(peer).toString();
    const leaderId = await this.leaderFor(groupId, conf, options.signal);
    if (target === leaderId) return PeerId.parse(leaderId);
    const request = target === undefined ? { groupId, leaderId } : { groupId, leaderId, peerId: target };
    await this.call(leaderId, CliService, "transfer_leader", request, undefined, options.signal);
    return PeerId.parse(leaderId);
  }

  /** tsraft's add_learners, through the leader. */
  addLearners(
    groupId: string,
    conf: GroupTarget,
    learners: readonly (PeerId | string)[],
    options: CliCallOptions = {},
  ): Promise<LearnersChange> {
    return this.learners("add_learners", groupId, conf, learners, options);
  }

  /** tsraft's remove_learners, through the leader. */
  removeLearners(
    groupId: string,
    conf: GroupTarget,
    learners: readonly (PeerId | string)[],
    options: CliCallOptions = {},
  ): Promise<LearnersChange> {
    return this.learners("remove_learners", groupId, conf, learners, options);
  }

  /** tsraft's reset_learners: `learners` become the only ones, through the leader. */
  resetLearners(
    groupId: string,
    conf: GroupTarget,
    learners: readonly (PeerId | string)[],
    options: CliCallOptions = {},
  ): Promise<LearnersChange> {
    return this.learners("reset_learners", groupId, conf, learners, options);
  }

  /** Closes the channels it opened. Idempotent. */
  close(): void {
    if (this.ownsChannels) this.channels.close();
  }

  /** The leader's id: given, or looked up among the peers of `conf`. */
  private leaderFor(groupId: string, conf: GroupTarget, signal?: AbortSignal): Promise<string> {
    if (typeof conf === "object" && "leaderId" in conf)
      return Promise.resolve(PeerId.from(conf.leaderId).toString());
    return this.leaderOf(groupId, peersOf(conf), signal);
  }

  /** A membership change sent to the leader, with `leader_id` set as braft's cli.cpp does. */
  private async changeOnLeader(
    method: "add_peer" | "remove_peer" | "change_peers",
    groupId: string,
    conf: GroupTarget,
    request: { groupId: string; peerId?: string; newPeers?: string[] },
    options: CliCallOptions,
  ): Promise<PeersChange> {
    const leaderId = await this.leaderFor(groupId, conf, options.signal);
    const sent = { ...request, leaderId };
    // Each caller builds its method's request; the union of the three is not one method's type.
    const r = await this.call(leaderId, CliService, method, sent as never, undefined, options.signal);
    return { oldPeers: r.oldPeers, newPeers: r.newPeers };
  }

  private async learners(
    method: "add_learners" | "remove_learners" | "reset_learners",
    groupId: string,
    conf: GroupTarget,
    learners: readonly (PeerId | string)[],
    options: CliCallOptions,
  ): Promise<LearnersChange> {
    const ids = learners.map((l) => PeerId.from(l).toString());
    const leaderId = await this.leaderFor(groupId, conf, options.signal);
    const request = { groupId, leaderId, learners: ids };
    const r = await this.call(leaderId, LearnerService, method, request, undefined, options.signal);
    return { oldLearners: r.oldLearners, newLearners: r.newLearners };
  }

  private getLeaderTimeoutMs(): number {
    const { timeoutMs } = this;
    return timeoutMs > 0 ? Math.min(timeoutMs, GET_LEADER_TIMEOUT_MS) : GET_LEADER_TIMEOUT_MS;
  }
}
