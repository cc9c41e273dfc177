/**
 * The tsraft command's side of braft's CliService (braft's cli.cpp): finds a group's leader by
 * asking the peers of its configuration, then sends the operation to the leader's endpoint.
 * Speaks baidu_std through the project's Channel, so it works against braft (C++) nodes too.
 */
import type { DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { RaftError } from "../core/errors.js";
import { Channel } from "../rpc/channel.js";
import { CliService } from "../rpc/gen/braft/cli_pb.js";
import type { InputOf, MethodsOf, OutputOf } from "../rpc/service-registry.js";
import { callMethod } from "../rpc/typed-call.js";
import { endpointOf } from "./args.js";

/** brpc's default ChannelOptions.timeout_ms, which braft's get_leader calls run with. */
const GET_LEADER_TIMEOUT_MS = 1000;
/** Waits before retrying a call that could not reach its server (the channel's backoff). */
const RETRY_BACKOFF_MS = 50;

export interface CliClientOptions {
  /** Per operation; <= 0 waits forever (braft_cli's default -1). */
  readonly timeoutMs: number;
  /** Retries of a call that failed to reach its server (EHOSTUNREACH), as brpc's max_retry. */
  readonly maxRetry: number;
}

/** Channels to a group's peers, closed together. */
export class CliClient {
  private readonly channels = new Map<string, Channel>();

  constructor(private readonly options: CliClientOptions) {}

  /** Calls `service.method` on the server of `peer` (an `ip:port[:idx]`). */
  async call<S extends DescService, K extends keyof MethodsOf<S> & string>(
    peer: string,
    service: S,
    method: K,
    request: MessageInitShape<InputOf<MethodsOf<S>[K]>>,
    timeoutMs = this.options.timeoutMs,
  ): Promise<MessageShape<OutputOf<MethodsOf<S>[K]>>> {
    const channel = this.channel(endpointOf(peer));
    for (let attempt = 0; ; attempt++) {
      try {
        return (await callMethod(channel, service, method, request, { timeoutMs })).response;
      } catch (error) {
        const unreachable = RaftError.is(error) && error.code === "EHOSTUNREACH";
        if (!unreachable || attempt >= this.options.maxRetry) throw error;
        await new Promise((resolve) => setTimeout(resolve, RETRY_BACKOFF_MS * 2 ** attempt));
      }
    }
  }

  /**
   * The leader of `groupId` as the peers of `conf` see it (asked at once, each about itself).
   * A peer naming itself wins; otherwise the answer most peers give. When nobody names one, the
   * error carries every peer's answer, as braft's get_leader does.
   */
  async leaderOf(groupId: string, conf: readonly string[]): Promise<string> {
    const answers = await Promise.allSettled(
      conf.map((peerId) =>
        this.call(peerId, CliService, "get_leader", { groupId, peerId }, this.getLeaderTimeoutMs()),
      ),
    );
    const named = answers.map((a) => (a.status === "fulfilled" ? a.value.leaderId : ""));
    const leader = named.find((l, i) => l !== "" && l === conf[i]) ?? mostCommon(named);
    if (leader !== undefined) return leader;
    throw combinedError(groupId, conf, answers);
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private getLeaderTimeoutMs(): number {
    const { timeoutMs } = this.options;
    return timeoutMs > 0 ? Math.min(timeoutMs, GET_LEADER_TIMEOUT_MS) : GET_LEADER_TIMEOUT_MS;
  }

  private channel(endpoint: string): Channel {
    let channel = this.channels.get(endpoint);
    if (channel === undefined) {
      channel = new Channel(endpoint, { reconnectBackoffMinMs: RETRY_BACKOFF_MS / 2 });
      this.channels.set(endpoint, channel);
    }
    return channel;
  }
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== "") counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * braft's "[peer] text, [peer] text" summary; its code is the first refusal by a node (ENOENT,
 * EAGAIN...) or, when no node answered, the last transport error.
 */
function combinedError(
  groupId: string,
  conf: readonly string[],
  answers: readonly PromiseSettledResult<unknown>[],
): RaftError {
  const errors = answers.map((a) =>
    a.status === "rejected" && RaftError.is(a.reason) ? a.reason : new RaftError("EIO", "no leader id"),
  );
  const transport = new Set(["EHOSTUNREACH", "ERAFTTIMEDOUT", "ESHUTDOWN"]);
  const code = errors.find((e) => !transport.has(e.code))?.code ?? errors.at(-1)?.code ?? "EINVAL";
  const detail = errors.map((e, i) => `[${conf[i] ?? "?"}] ${e.code} ${brief(e.message)}`).join(", ");
  return new RaftError(code, `cannot find the leader of group ${groupId}: ${detail}`);
}

/** A transport error's text without the channel's "service.method to endpoint: " prefix. */
export function brief(message: string): string {
  return message.replace(/^\S+ to \S+: /, "");
}
