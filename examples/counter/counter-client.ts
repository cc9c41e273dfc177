/**
 * The client side of example.CounterService, in the way braft's RouteTable works: it keeps the
 * group's leader, asks for it when unknown (braft.CliService get_leader on each peer; a server
 * without CliService is simply tried in turn), follows `redirect`, and forgets a leader whose calls
 * fail. One PipelinedChannel per endpoint carries every caller's requests, many in flight at once;
 * get_leader goes through the library's Channel.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { PeerId } from "../../src/index.js";
import { Channel, type CallOptions } from "../../src/rpc/channel.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { FetchAddRequestSchema } from "../../src/rpc/gen/example/counter_pb.js";
import { callMethod } from "../../src/rpc/typed-call.js";
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
  /** The leader's `ip:port`, when known. */
  leader: string | undefined;
  readonly peers: readonly string[];
  private readonly channels = new Map<string, PipelinedChannel>();
  private readonly cliChannels = new Map<string, Channel>();
  private readonly callOptions: CallOptions;
  private refreshing: Promise<string | undefined> | undefined;
  private rotation = 0;

  /** @param conf the group's peers, `ip:port:idx,...` as braft's --conf */
  constructor(
    conf: string,
    readonly group: string,
    readonly timeoutMs: number,
  ) {
    const peers = conf
      .split(",")
      .map((text) => text.trim())
      .filter((text) => text !== "")
      .map((text) => PeerId.parse(text).endpoint);
    if (peers.length === 0) throw new Error("--conf names no peer");
    this.peers = [...new Set(peers)];
    this.callOptions = { timeoutMs };
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

  private cliChannel(endpoint: string): Channel {
    let channel = this.cliChannels.get(endpoint);
    if (channel === undefined) {
      channel = new Channel(endpoint, { connectTimeoutMs: this.timeoutMs, reconnectBackoffMaxMs: 200 });
      this.cliChannels.set(endpoint, channel);
    }
    return channel;
  }

  /** The leader, asking the peers when it is unknown; concurrent callers share one refresh. */
  async leaderOrRefresh(): Promise<string | undefined> {
    if (this.leader !== undefined) return this.leader;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** A call to `endpoint` failed: it is no longer taken for the leader. */
  forget(endpoint: string): void {
    if (this.leader === endpoint) this.leader = undefined;
  }

  /** `endpoint` answered success=false: go where it points, or ask again. */
  redirected(endpoint: string, redirect: string | undefined): void {
    let next: string | undefined;
    try {
      next = redirect === undefined || redirect === "" ? undefined : PeerId.parse(redirect).endpoint;
    } catch {
      next = undefined;
    }
    if (next !== undefined) this.leader = next;
    else this.forget(endpoint);
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    for (const channel of this.cliChannels.values()) channel.close();
  }

  /** braft's refresh_leader: get_leader on each peer; without an answer, guess the next peer. */
  private async refresh(): Promise<string | undefined> {
    for (let i = 0; i < this.peers.length; i++) {
      const endpoint = this.peers[(this.rotation + i) % this.peers.length] ?? "";
      try {
        const { response } = await callMethod(
          this.cliChannel(endpoint),
          CliService,
          "get_leader",
          { groupId: this.group },
          this.callOptions,
        );
        if (response.leaderId !== "") {
          this.leader = PeerId.parse(response.leaderId).endpoint;
          return this.leader;
        }
      } catch {
        // No CliService there, no known leader, or unreachable: try the next peer.
      }
    }
    // Nobody named a leader: try a peer; its redirect (or its failure) tells us more.
    this.leader = this.peers[this.rotation++ % this.peers.length];
    return this.leader;
  }
}

/** A promise resolved after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
