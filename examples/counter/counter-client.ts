/**
 * The client side of example.CounterService on the client library: tsraft's RouteTable (braft's
 * `rtb::`) keeps the group's configuration and leader, asks for the leader when it is unknown
 * (braft.CliService get_leader on every peer; when nobody names one, a peer is tried in turn: its
 * redirect tells more), follows `redirect`, and forgets a leader whose calls fail. One
 * PipelinedChannel per endpoint carries every caller's requests, many in flight at once: the
 * load generator's lean transport, cheaper per call than the library's Channel.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { PeerId, RouteTable } from "../../src/client/index.js";
import { FetchAddRequestSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { decodeCounterResponse, type CounterReply } from "./counter-response.js";
import { PipelinedChannel, requestMetaPrefix } from "./pipelined-channel.js";

export const COUNTER_SERVICE = "example.CounterService";

/** Serialized FetchAddRequest{value}: computed once, sent as is by every call. */
export function fetchAddRequest(value: bigint): Uint8Array {
  return toBinary(FetchAddRequestSchema, create(FetchAddRequestSchema, { value }));
}

/** The empty GetRequest. */
export const GET_REQUEST = new Uint8Array(0);

const METHOD_PREFIX = {
  fetch_add: requestMetaPrefix(COUNTER_SERVICE, "fetch_add"),
  get: requestMetaPrefix(COUNTER_SERVICE, "get"),
} as const;

export class CounterClient {
  readonly peers: readonly string[];
  private readonly routes = new RouteTable();
  private readonly channels = new Map<string, PipelinedChannel>();
  private refreshing: Promise<string | undefined> | undefined;
  private rotation = 0;
  /** The leader's endpoint, cached per PeerId the table returns (the hot path asks per call). */
  private cachedLeader: PeerId | undefined;
  private cachedEndpoint: string | undefined;

  /** @param conf the group's peers, `ip:port:idx,...` as braft's --conf */
  constructor(
    conf: string,
    readonly group: string,
    readonly timeoutMs: number,
  ) {
    this.routes.updateConfiguration(group, conf); // EINVAL for an empty or malformed --conf
    this.peers = [...new Set(this.routes.listConfiguration(group).peers.map((peer) => peer.endpoint))];
  }

  /** The leader's `ip:port`, when known. */
  get leader(): string | undefined {
    const peer = this.routes.selectLeader(this.group);
    if (peer !== this.cachedLeader) {
      this.cachedLeader = peer;
      this.cachedEndpoint = peer?.endpoint;
    }
    return this.cachedEndpoint;
  }

  /** Sends one CounterService call to `endpoint`, decoding the reply into `out`. */
  async call(
    endpoint: string,
    method: "fetch_add" | "get",
    request: Uint8Array,
    out: CounterReply,
  ): Promise<CounterReply> {
    let channel = this.channels.get(endpoint);
    if (channel === undefined) {
      channel = new PipelinedChannel(endpoint, this.timeoutMs);
      this.channels.set(endpoint, channel);
    }
    return decodeCounterResponse(await channel.call(METHOD_PREFIX[method], request), out);
  }

  /** The leader, asking the peers when it is unknown; concurrent callers share one refresh. */
  leaderOrRefresh(): Promise<string | undefined> | string {
    const known = this.leader;
    if (known !== undefined) return known;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** A call to `endpoint` failed: it is no longer taken for the leader. */
  forget(endpoint: string): void {
    if (this.leader === endpoint) this.routes.updateLeader(this.group, undefined);
  }

  /** `endpoint` answered success=false: go where it points, or ask again. */
  redirected(endpoint: string, redirect: string | undefined): void {
    let next: PeerId | undefined;
    try {
      next = redirect === undefined || redirect === "" ? undefined : PeerId.parse(redirect);
    } catch {
      next = undefined;
    }
    if (next !== undefined) this.routes.updateLeader(this.group, next);
    else this.forget(endpoint);
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.routes.close();
  }

  /** braft's refresh_leader; when nobody names a leader, guess the next peer. */
  private async refresh(): Promise<string | undefined> {
    try {
      return (await this.routes.refreshLeader(this.group, this.timeoutMs)).endpoint;
    } catch {
      // No CliService there, no known leader, or unreachable: try a peer; its redirect (or its
      // failure) tells us more.
      const peers = this.routes.listConfiguration(this.group).peers;
      this.routes.updateLeader(this.group, peers[this.rotation++ % peers.length]);
      return this.leader;
    }
  }
}

/** A promise resolved after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
