/**
 * braft's RouteTable (route_table.h, `braft::rtb`): for each group a client talks to, its
 * configuration and the leader last known. A client selects the leader, calls it, and updates or
 * refreshes the entry when the leader changes. Unlike braft's process-wide singleton, each table
 * is an object, so two clients (or two tests) in one process do not share leaders.
 */
import { RaftError } from "../core/errors.js";
import { Configuration, PeerId } from "../node/peer-id.js";
import { CliService } from "../rpc/gen/braft/cli_pb.js";
import type { ChannelOptions } from "../rpc/options.js";
import { callMethod } from "../rpc/typed-call.js";
import { channelPool, type ChannelProvider } from "./channels.js";
import { findLeader } from "./leader-lookup.js";

/** brpc's default call timeout, which braft's refresh_leader callers usually pass. */
const REFRESH_TIMEOUT_MS_DEFAULT = 1000;

/** Options of {@link RouteTable}. */
export interface RouteTableOptions {
  /** Where refreshLeader's channels come from (default: a pool of its own, closed by close()). */
  readonly channels?: ChannelProvider | undefined;
  /** Options of the default pool's channels (TLS, connect timeout). */
  readonly channel?: ChannelOptions | undefined;
}

interface GroupRoute {
  conf: Configuration;
  leader: PeerId | undefined;
  /** The refresh in flight: concurrent callers share one round of get_leader. */
  refreshing: Promise<PeerId> | undefined;
}

/** Configurations and leaders by group id. */
export class RouteTable {
  private readonly groups = new Map<string, GroupRoute>();
  private readonly channels: ChannelProvider;
  private readonly ownsChannels: boolean;

  constructor(options: RouteTableOptions = {}) {
    this.ownsChannels = options.channels === undefined;
    this.channels = options.channels ?? channelPool(options.channel);
  }

  /**
   * braft's update_configuration: registers `group` or replaces its configuration. A known
   * leader outside the new configuration is forgotten. EINVAL for an empty or malformed one.
   */
  updateConfiguration(group: string, conf: Configuration | string | readonly (PeerId | string)[]): void {
    const parsed = Configuration.from(conf);
    if (parsed.isEmpty()) throw new RaftError("EINVAL", `empty configuration for group ${group}`);
    const route = this.groups.get(group);
    if (route === undefined) {
      this.groups.set(group, { conf: parsed, leader: undefined, refreshing: undefined });
      return;
    }
    route.conf = parsed;
    if (route.leader !== undefined && !parsed.contains(route.leader)) route.leader = undefined;
  }

  /**
   * braft's update_leader: `leader` now leads `group` (undefined or "": no leader known). Does
   * nothing for a group that was never configured, as in braft.
   */
  updateLeader(group: string, leader: PeerId | string | undefined): void {
    const route = this.groups.get(group);
    if (route === undefined) return;
    route.leader = leader === undefined || leader === "" ? undefined : PeerId.from(leader);
  }

  /** braft's select_leader: the leader last known, or undefined. ENOENT for an unknown group. */
  selectLeader(group: string): PeerId | undefined {
    return this.route(group).leader;
  }

  /** braft's list_conf: the group's configuration. ENOENT for an unknown group. */
  listConfiguration(group: string): Configuration {
    return this.route(group).conf;
  }

  /** The groups registered. */
  listGroups(): string[] {
    return [...this.groups.keys()];
  }

  /** braft's remove_group; false when the group was not registered. */
  removeGroup(group: string): boolean {
    return this.groups.delete(group);
  }

  /**
   * braft's refresh_leader: asks the peers of the group's configuration who leads (CliService
   * get_leader, each call bounded by `timeoutMs`), records the answer and resolves with it.
   * Rejects when nobody names a leader (the error lists every peer's answer) and then forgets the
   * old one. Callers arriving while a refresh runs share it.
   */
  refreshLeader(
    group: string,
    timeoutMs = REFRESH_TIMEOUT_MS_DEFAULT,
    signal?: AbortSignal,
  ): Promise<PeerId> {
    let route: GroupRoute;
    try {
      route = this.route(group);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    route.refreshing ??= this.askPeers(group, route, timeoutMs, signal).finally(() => {
      route.refreshing = undefined;
    });
    return route.refreshing;
  }

  /** Closes the channels it opened. Idempotent. */
  close(): void {
    if (this.ownsChannels) this.channels.close();
  }

  private async askPeers(
    group: string,
    route: GroupRoute,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<PeerId> {
    const peers = route.conf.peers.map(String);
    try {
      const leader = PeerId.parse(
        await findLeader(group, peers, async (peerId) => {
          const channel = this.channels.get(PeerId.parse(peerId).endpoint);
          const request = { groupId: group, peerId };
          const { response } = await callMethod(channel, CliService, "get_leader", request, {
            timeoutMs,
            signal,
          });
          return response.leaderId;
        }),
      );
      // Recorded even outside the configuration, as braft does: the caller's may be stale.
      if (this.groups.get(group) === route) route.leader = leader;
      return leader;
    } catch (error) {
      if (this.groups.get(group) === route) route.leader = undefined;
      throw error;
    }
  }

  private route(group: string): GroupRoute {
    const route = this.groups.get(group);
    if (route === undefined) {
      throw new RaftError("ENOENT", `group ${group} is not registered in the route table`, {
        outcome: "refused",
      });
    }
    return route;
  }
}
