/**
 * Where the client layer gets its channels: anything that can carry one call to an endpoint.
 * The default is the library's {@link ChannelPool} (one multiplexed connection per endpoint); a
 * test passes its own provider to run the client over a simulated network on virtual time.
 */
import type { Channel } from "../rpc/channel.js";
import { ChannelPool } from "../rpc/channel-pool.js";
import type { ChannelOptions } from "../rpc/options.js";

/** What the client needs of a channel: one call, raw bytes in and out (see {@link Channel.call}). */
export type CallChannel = Pick<Channel, "call">;

/** The channel to each endpoint (`ip:port`). */
export interface ChannelProvider {
  /** The channel to `endpoint`; the same one every time while the provider is open. */
  get(endpoint: string): CallChannel;
  /** Closes every channel; calls in flight fail with ESHUTDOWN. */
  close(): void;
}

/** A provider of real channels with `options` (TLS, timeouts, backoff). */
export function channelPool(options: ChannelOptions = {}): ChannelProvider {
  const pool = new ChannelPool(options);
  return { get: (endpoint) => pool.get(endpoint), close: () => pool.close() };
}
