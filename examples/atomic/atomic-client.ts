/**
 * A client of the atomic service that finds the leader (following braft's redirects) and tells,
 * for every call, whether it certainly took effect, certainly did not, or may have:
 *
 * - `ok`: the server answered with the operation's result (for compare_exchange, success or not).
 * - `fail`: every server that was asked refused before proposing (the `refused` extension, or a
 *   connection that never opened), or a get found no leader: no effect.
 * - `unknown`: a timeout, a connection lost after sending, or a redirect without `refused` (the
 *   leader may have stepped down with the entry in its log). The client never retries a write
 *   after an ambiguous answer: a retry that also applied would be an operation nobody recorded.
 */
import { isFieldSet } from "@bufbuild/protobuf";
import { RaftError } from "../../src/index.js";
import { Channel } from "../../src/rpc/channel.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import {
  AtomicResponseSchema,
  AtomicService,
  type AtomicResponse,
} from "../../src/rpc/gen/example/atomic_pb.js";

export type CallOutcome =
  | { readonly outcome: "ok"; readonly response: AtomicResponse; readonly server: string }
  | { readonly outcome: "fail" | "unknown"; readonly reason: string };

export interface AtomicClientOptions {
  /** The whole call, redirects included, gives up after this long. */
  readonly timeoutMs?: number | undefined;
  /** Pause before trying again after a refusal with no leader known. */
  readonly retryDelayMs?: number | undefined;
  /** Which server to try first (an index into the peers), so many clients spread their guesses. */
  readonly firstGuess?: number | undefined;
  /**
   * Sends each get to a random server instead of the leader: against servers started with
   * `--follower_reads`, followers answer through ReadIndex (linearizable); against
   * `--unsafe_local_reads`, from their local maps (a deliberately stale setup the chaos run must
   * catch).
   */
  readonly readFromAny?: boolean | undefined;
}

type Request =
  | { readonly method: "get"; readonly id: bigint }
  | { readonly method: "exchange"; readonly id: bigint; readonly value: bigint }
  | {
      readonly method: "compare_exchange";
      readonly id: bigint;
      readonly expectedValue: bigint;
      readonly newValue: bigint;
    };

export class AtomicClient {
  private readonly channels = new Map<string, Channel>();
  /** `ip:port` of the server believed to lead. */
  private leader: string;
  private readonly servers: string[];
  private nextGuess = 0;

  constructor(
    peers: readonly string[],
    private readonly options: AtomicClientOptions = {},
  ) {
    this.servers = peers.map(endpointOf);
    if (this.servers.length === 0) throw new RaftError("EINVAL", "no servers");
    this.nextGuess = (options.firstGuess ?? 0) % this.servers.length;
    this.leader = this.servers[this.nextGuess] as string;
  }

  get(id: bigint): Promise<CallOutcome> {
    return this.call({ method: "get", id });
  }

  exchange(id: bigint, value: bigint): Promise<CallOutcome> {
    return this.call({ method: "exchange", id, value });
  }

  compareExchange(id: bigint, expectedValue: bigint, newValue: bigint): Promise<CallOutcome> {
    return this.call({ method: "compare_exchange", id, expectedValue, newValue });
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private async call(request: Request): Promise<CallOutcome> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    const deadline = performance.now() + timeoutMs;
    let lastReason = "no server answered";
    for (;;) {
      const leftMs = deadline - performance.now();
      if (leftMs <= 0) return { outcome: "fail", reason: lastReason };
      const server =
        this.options.readFromAny === true && request.method === "get"
          ? (this.servers[Math.floor(Math.random() * this.servers.length)] as string)
          : this.leader;
      let response: AtomicResponse;
      try {
        response = await this.send(server, request, leftMs);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (!neverSent(error) && request.method !== "get") {
          this.guessAnother(); // braft's client forgets the leader after a failed RPC too
          return { outcome: "unknown", reason: message };
        }
        lastReason = message;
        this.guessAnother();
        await this.pause(deadline);
        continue;
      }
      if (response.success || isFieldSet(response, AtomicResponseSchema.field.oldValue)) {
        return { outcome: "ok", response, server };
      }
      const redirect = response.redirect === "" ? undefined : endpointOf(response.redirect);
      if (!response.refused && request.method !== "get") {
        // The write may have been proposed (braft's servers never say it was not), so it is not
        // retried; but the next call goes where the redirect points, or it would come back here.
        if (redirect !== undefined) this.leader = redirect;
        else this.guessAnother();
        return { outcome: "unknown", reason: `redirect from ${server} after proposing` };
      }
      lastReason = `${server} is not the leader`;
      if (redirect !== undefined && redirect !== server) this.leader = redirect;
      else {
        this.guessAnother();
        await this.pause(deadline);
      }
    }
  }

  private send(server: string, request: Request, timeoutMs: number): Promise<AtomicResponse> {
    let channel = this.channels.get(server);
    if (channel === undefined) {
      channel = new Channel(server, {
        connectTimeoutMs: 200,
        reconnectBackoffMinMs: 10,
        reconnectBackoffMaxMs: 50,
      });
      this.channels.set(server, channel);
    }
    const options = { timeoutMs };
    const result =
      request.method === "get"
        ? callMethod(channel, AtomicService, "get", { id: request.id }, options)
        : request.method === "exchange"
          ? callMethod(channel, AtomicService, "exchange", { id: request.id, value: request.value }, options)
          : callMethod(
              channel,
              AtomicService,
              "compare_exchange",
              { id: request.id, expectedValue: request.expectedValue, newValue: request.newValue },
              options,
            );
    return result.then((r) => r.response);
  }

  private guessAnother(): void {
    this.nextGuess = (this.nextGuess + 1) % this.servers.length;
    this.leader = this.servers[this.nextGuess] as string;
  }

  private pause(deadline: number): Promise<void> {
    const ms = Math.min(this.options.retryDelayMs ?? 20, Math.max(0, deadline - performance.now()));
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}

/**
 * True when the request cannot have reached the server: refused before writing (no connection,
 * backing off) or the connection never opened. A lost connection or a timeout may have delivered it.
 */
function neverSent(error: unknown): boolean {
  if (!RaftError.is(error) || error.code !== "EHOSTUNREACH") return false;
  return /not connected|connection to \S+ failed/.test(error.message);
}

/** `ip:port` of a peer id (`ip:port:idx`) or an endpoint. */
export function endpointOf(peer: string): string {
  const [ip, port] = peer.split(":");
  return `${ip}:${port}`;
}
