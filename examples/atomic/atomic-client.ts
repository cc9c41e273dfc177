/**
 * A client of the atomic service on the client library's ClusterClient, which finds the leader
 * (following braft's redirects), and tells, for every call, whether it certainly took effect,
 * certainly did not, or may have:
 *
 * - `ok`: the server answered with the operation's result (for compare_exchange, success or not).
 * - `fail`: every server that was asked refused before proposing (the `refused` extension, or a
 *   connection that never opened), or a get found no leader: no effect.
 * - `unknown`: a timeout, a connection lost after sending, or a redirect without `refused` (the
 *   leader may have stepped down with the entry in its log). The client never retries a write
 *   after an ambiguous answer: a retry that also applied would be an operation nobody recorded.
 */
import { isFieldSet } from "@bufbuild/protobuf";
import {
  ClusterClient,
  PeerId,
  RaftError,
  callMethod,
  type LeaderCallOptions,
  type Redirect,
} from "../../src/client/index.js";
import {
  AtomicResponseSchema,
  AtomicService,
  type AtomicResponse,
} from "../../src/rpc/gen/example/atomic_pb.js";

export type CallOutcome =
  | { readonly outcome: "ok"; readonly response: AtomicResponse; readonly server: string }
  | { readonly outcome: "fail" | "unknown"; readonly reason: string };

export interface AtomicClientOptions {
  /** The group the servers run (their `--group`), for get_leader: "Atomic". */
  readonly group?: string | undefined;
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

/**
 * AtomicResponse's redirect: success=false without `old_value` (a compare_exchange that did
 * not match carries the value it found, and is an answer).
 */
function atomicRedirect(response: AtomicResponse): Redirect | undefined {
  if (response.success || isFieldSet(response, AtomicResponseSchema.field.oldValue)) return undefined;
  return { leaderId: response.redirect === "" ? undefined : response.redirect, refused: response.refused };
}

export class AtomicClient {
  private readonly client: ClusterClient;
  private readonly group: string;
  private readonly servers: string[];

  constructor(
    peers: readonly string[],
    private readonly options: AtomicClientOptions = {},
  ) {
    this.servers = peers.map(endpointOf);
    if (this.servers.length === 0) throw new RaftError("EINVAL", "no servers");
    const retryDelayMs = options.retryDelayMs ?? 20;
    this.client = new ClusterClient({
      timeoutMs: options.timeoutMs ?? 1000,
      backoffMinMs: retryDelayMs,
      backoffMaxMs: retryDelayMs,
      channel: { connectTimeoutMs: 200, reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 50 },
    });
    this.group = options.group ?? "Atomic";
    this.client.updateConfiguration(this.group, peers);
    const guess = peers[(options.firstGuess ?? 0) % peers.length] as string;
    this.client.routeTable.updateLeader(this.group, guess);
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
    this.client.close();
  }

  /**
   * Through the library's leader-following call: it resends only what was refused (a get, which
   * changes nothing, after any failure). A failed get is "fail": it changed nothing.
   */
  private async call(request: Request): Promise<CallOutcome> {
    if (request.method === "get" && this.options.readFromAny === true) return this.getFromAny(request.id);
    const options: LeaderCallOptions<AtomicResponse> = {
      redirectOf: atomicRedirect,
      idempotent: request.method === "get",
    };
    try {
      const result =
        request.method === "get"
          ? await this.client.call(this.group, AtomicService, "get", { id: request.id }, options)
          : request.method === "exchange"
            ? await this.client.call(this.group, AtomicService, "exchange", exchangeOf(request), options)
            : await this.client.call(this.group, AtomicService, "compare_exchange", casOf(request), options);
      return { outcome: "ok", response: result.response, server: result.peer.endpoint };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      const sure = !RaftError.is(error) || error.outcome === "refused" || request.method === "get";
      return { outcome: sure ? "fail" : "unknown", reason };
    }
  }

  /** A get sent to random servers until one answers or the deadline passes. */
  private async getFromAny(id: bigint): Promise<CallOutcome> {
    const timeoutMs = this.options.timeoutMs ?? 1000;
    const deadline = performance.now() + timeoutMs;
    let lastReason = "no server answered";
    for (;;) {
      const leftMs = deadline - performance.now();
      if (leftMs <= 0) return { outcome: "fail", reason: lastReason };
      const server = this.servers[Math.floor(Math.random() * this.servers.length)] as string;
      try {
        const channel = this.client.channel(server);
        const { response } = await callMethod(channel, AtomicService, "get", { id }, { timeoutMs: leftMs });
        if (atomicRedirect(response) === undefined) return { outcome: "ok", response, server };
        lastReason = `${server} did not answer the get`;
      } catch (error) {
        lastReason = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.options.retryDelayMs ?? 20, leftMs)));
    }
  }
}

const exchangeOf = (r: Request & { method: "exchange" }) => ({ id: r.id, value: r.value });
const casOf = (r: Request & { method: "compare_exchange" }) => ({
  id: r.id,
  expectedValue: r.expectedValue,
  newValue: r.newValue,
});

/** `ip:port` of a peer id (`ip:port:idx`) or an endpoint. */
export function endpointOf(peer: string): string {
  return PeerId.parse(peer).endpoint;
}
