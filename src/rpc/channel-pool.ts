/**
 * One Channel per remote endpoint and lane, shared by every group and caller of a process (or of
 * a RaftServer): the "control" channel carries every call but appends with entries, which go on
 * the "bulk" one (see RpcLane). Channels are created on first use and live until the pool closes.
 */
import { RaftError } from "../core/errors.js";
import { Channel, type ChannelObservers } from "./channel.js";
import type { ChannelOptions } from "./options.js";
import type { RpcLane } from "./lanes.js";

/** The channels of a process or server, by remote endpoint. */
export class ChannelPool {
  private readonly channels = new Map<string, Channel>();
  private closed = false;

  constructor(
    private readonly options: ChannelOptions = {},
    private readonly observers: ChannelObservers = {},
  ) {}

  /** The channel to `endpoint` (`ip:port`) on `lane`. After close(), ESHUTDOWN. */
  get(endpoint: string, lane: RpcLane = "control"): Channel {
    if (this.closed) throw new RaftError("ESHUTDOWN", "channel pool closed");
    const key = lane === "control" ? endpoint : `${endpoint}#${lane}`;
    let channel = this.channels.get(key);
    if (channel === undefined) {
      channel = new Channel(endpoint, this.options, this.observers);
      this.channels.set(key, channel);
    }
    return channel;
  }

  /** Endpoints with a channel (each once, whatever its lanes). */
  endpoints(): string[] {
    return [...new Set([...this.channels.values()].map((channel) => channel.endpoint))];
  }

  /** Closes every channel; in-flight calls fail with ESHUTDOWN. Idempotent. */
  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
