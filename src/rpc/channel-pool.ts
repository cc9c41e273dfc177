/**
 * One Channel per remote endpoint, shared by every group and caller of a process (or of a
 * RaftServer). Channels are created on first use and live until the pool closes.
 */
import { RaftError } from "../core/errors.js";
import { Channel, type ChannelObservers } from "./channel.js";
import type { ChannelOptions } from "./options.js";

/** The channels of a process or server, by remote endpoint. */
export class ChannelPool {
  private readonly channels = new Map<string, Channel>();
  private closed = false;

  constructor(
    private readonly options: ChannelOptions = {},
    private readonly observers: ChannelObservers = {},
  ) {}

  /** The channel to `endpoint` (`ip:port`). After close(), ESHUTDOWN. */
  get(endpoint: string): Channel {
    if (this.closed) throw new RaftError("ESHUTDOWN", "channel pool closed");
    let channel = this.channels.get(endpoint);
    if (channel === undefined) {
      channel = new Channel(endpoint, this.options, this.observers);
      this.channels.set(endpoint, channel);
    }
    return channel;
  }

  /** Endpoints with a channel. */
  endpoints(): string[] {
    return [...this.channels.keys()];
  }

  /** Closes every channel; in-flight calls fail with ESHUTDOWN. Idempotent. */
  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
