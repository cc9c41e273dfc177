/**
 * Calls a method of a user's service on a group's leader: the route table picks the leader, a
 * redirect or a failure moves the call to the next one, and the call is sent again only when that
 * cannot apply it twice (docs/errors.md): the node refused it before proposing, it never left
 * this process, or the caller declared it idempotent. One deadline and one AbortSignal bound the
 * whole call, leader lookups, redirects and backoffs included.
 */
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { RaftError, type ErrorCode } from "../core/errors.js";
import { PeerId } from "../node/peer-id.js";
import type { Attachment } from "../rpc/baidu-std.js";
import type { ChannelOptions } from "../rpc/options.js";
import type { InputOf, MethodsOf, OutputOf } from "../rpc/service-registry.js";
import { callMethod, type TypedResult } from "../rpc/typed-call.js";
import { channelPool, type CallChannel, type ChannelProvider } from "./channels.js";
import { Deadline, preciseClock, type ClientClock } from "./deadline.js";
import { conventionalRedirect, type Redirect, type RedirectOf } from "./redirect.js";
import { RouteTable } from "./route-table.js";

/** Options of {@link ClusterClient}. */
export interface ClusterClientOptions {
  /** The table of groups and leaders (default: one of its own). Share one between clients. */
  readonly routeTable?: RouteTable | undefined;
  /** Where channels come from (default: a pool of its own). Tests pass a simulated one. */
  readonly channels?: ChannelProvider | undefined;
  /** Options of the default pool's channels (TLS, connect timeout, reconnect backoff). */
  readonly channel?: ChannelOptions | undefined;
  /** Deadline of a call that sets none: 1000 ms (brpc's default timeout). */
  readonly timeoutMs?: number | undefined;
  /** Bound of one leader lookup (get_leader round), within the call's deadline: 500 ms. */
  readonly refreshTimeoutMs?: number | undefined;
  /** First wait before retrying when no leader is known: 10 ms, doubling up to `backoffMaxMs`. */
  readonly backoffMinMs?: number | undefined;
  /** Longest wait between retries: 200 ms, a fraction of an election timeout. */
  readonly backoffMaxMs?: number | undefined;
  /** Clock and timers (default: the process's). The simulator passes virtual time. */
  readonly clock?: ClientClock | undefined;
}

/** One call on a group's leader. */
export interface LeaderCallOptions<T> {
  /** Deadline of the whole call, retries included (default: the client's `timeoutMs`). */
  readonly timeoutMs?: number | undefined;
  /** Aborts the call: it rejects with ECANCELED. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The method may run twice without harm (a read, a conditional or deduplicated write): it is
   * sent again after any failure, not only after a refusal. Default false.
   */
  readonly idempotent?: boolean | undefined;
  /**
   * Tells a "not the leader" response from an answer. Default: the braft examples' convention
   * (`success=false` with `redirect`, and tsraft's `refused`) for schemas that have those fields.
   */
  readonly redirectOf?: RedirectOf<T> | undefined;
  readonly attachment?: Attachment | undefined;
  readonly logId?: bigint | undefined;
}

/** A call's answer, with the peer that gave it. */
export interface LeaderCallResult<T> extends TypedResult<T> {
  readonly peer: PeerId;
}

/** Codes after which another node (or the same one later) may answer: the call moves on. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "EPERM", // not the leader (a handler that let node.apply's error through)
  "EBUSY",
  "EAGAIN",
  "EHOSTUNREACH",
  "ESHUTDOWN",
  "ENOENT", // the group is not (or no longer) on that node
  "ELEADERREMOVED",
  "ESTALE",
  "ERAFTTIMEDOUT",
  "ENODESHUTDOWN",
]);

/** Codes that say the node called does not lead: forget it as the leader. */
const NOT_LEADER: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "EPERM",
  "EHOSTUNREACH",
  "ESHUTDOWN",
  "ENOENT",
  "ELEADERREMOVED",
  "ENODESHUTDOWN",
]);

/** A leader-tracking client for users' own services on a tsraft (or braft) cluster. */
export class ClusterClient {
  /** The groups' configurations and leaders this client routes by. */
  readonly routeTable: RouteTable;
  private readonly channels: ChannelProvider;
  private readonly ownsChannels: boolean;
  private readonly ownsRouteTable: boolean;
  private readonly clock: ClientClock;
  private readonly timeoutMs: number;
  private readonly refreshTimeoutMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  /** Which peer to guess next, per group, when nobody names a leader. */
  private readonly guesses = new Map<string, number>();
  private readonly redirects = new WeakMap<DescMessage, RedirectOf<unknown> | undefined>();

  constructor(options: ClusterClientOptions = {}) {
    this.ownsChannels = options.channels === undefined;
    this.channels = options.channels ?? channelPool(options.channel);
    this.ownsRouteTable = options.routeTable === undefined;
    this.routeTable = options.routeTable ?? new RouteTable({ channels: this.channels });
    this.clock = options.clock ?? preciseClock;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.refreshTimeoutMs = options.refreshTimeoutMs ?? 500;
    this.backoffMinMs = options.backoffMinMs ?? 10;
    this.backoffMaxMs = Math.max(this.backoffMinMs, options.backoffMaxMs ?? 200);
  }

  /** Registers `group` (or replaces its configuration): {@link RouteTable.updateConfiguration}. */
  updateConfiguration(group: string, conf: Parameters<RouteTable["updateConfiguration"]>[1]): void {
    this.routeTable.updateConfiguration(group, conf);
  }

  /** The channel to a peer's (or an endpoint's) server, for calls the caller routes itself. */
  channel(peer: PeerId | string): CallChannel {
    return this.channels.get(endpointOf(peer));
  }

  /**
   * Calls `service.method` (proto or local method name) on the leader of `group` and resolves
   * with its answer. Rejects with a RaftError whose `outcome` says whether the call may have
   * taken effect: ERAFTTIMEDOUT at the deadline, ECANCELED when aborted, or the last failure
   * when retrying is not safe (a redirect after proposing: EPERM with `leaderId`).
   */
  async call<S extends DescService, K extends keyof MethodsOf<S> & string>(
    group: string,
    service: S,
    method: K,
    request: MessageInitShape<InputOf<MethodsOf<S>[K]>>,
    options: LeaderCallOptions<MessageShape<OutputOf<MethodsOf<S>[K]>>> = {},
  ): Promise<LeaderCallResult<MessageShape<OutputOf<MethodsOf<S>[K]>>>> {
    type Response = MessageShape<OutputOf<MethodsOf<S>[K]>>;
    this.routeTable.listConfiguration(group); // ENOENT before anything is sent
    const redirectOf = (options.redirectOf ?? this.defaultRedirect(service, method)) as RedirectOf<Response>;
    const deadline = new Deadline(this.clock, options.timeoutMs ?? this.timeoutMs, options.signal);
    const { attachment, logId } = options;
    const send: Send<Response> = (peer, timing) =>
      callMethod(this.channel(peer), service, method, request, { ...timing, attachment, logId });
    let mayHaveTakenEffect = false;
    let backoffMs = this.backoffMinMs;
    try {
      for (;;) {
        const stop = deadline.stopped();
        if (stop !== undefined) {
          const what = `${service.typeName}.${method} on group ${group}`;
          throw stopError(stop, what, deadline.timeoutMs, mayHaveTakenEffect);
        }
        const peer = await this.target(group, deadline);
        if (peer === undefined) continue;
        const step = await this.attempt(group, peer, send, redirectOf, deadline);
        if (step.kind === "answer") return step.result;
        mayHaveTakenEffect ||= step.mayHaveTakenEffect;
        if (step.kind === "stopped") continue; // the loop's head reports the deadline or the abort
        if (!step.retryable || (step.error.outcome !== "refused" && options.idempotent !== true)) {
          throw mayHaveTakenEffect ? step.error.withOutcome("unknown") : step.error;
        }
        if (step.moved) backoffMs = this.backoffMinMs;
        else {
          await deadline.sleep(backoffMs);
          backoffMs = Math.min(this.backoffMaxMs, backoffMs * 2);
        }
      }
    } finally {
      deadline.dispose();
    }
  }

  /** Closes the channels and the route table it created. Idempotent. */
  close(): void {
    if (this.ownsRouteTable) this.routeTable.close();
    if (this.ownsChannels) this.channels.close();
  }

  /** The peer to call: the known leader, else the one the peers name, else the next guess. */
  private async target(group: string, deadline: Deadline): Promise<PeerId | undefined> {
    const known = this.routeTable.selectLeader(group);
    if (known !== undefined) return known;
    try {
      const timeoutMs = Math.min(this.refreshTimeoutMs, deadline.remainingMs());
      return await this.routeTable.refreshLeader(group, timeoutMs, deadline.signal);
    } catch {
      if (deadline.stopped() !== undefined) return undefined;
      // Nobody names a leader (an election, or CliService disabled): ask a peer in turn; its
      // redirect, or its refusal, tells more.
      const peers = this.routeTable.listConfiguration(group).peers;
      const next = this.guesses.get(group) ?? 0;
      this.guesses.set(group, next + 1);
      return peers[next % peers.length];
    }
  }

  /** One call to `peer`: its answer, or what its failure means for the next attempt. */
  private async attempt<T>(
    group: string,
    peer: PeerId,
    send: Send<T>,
    redirectOf: RedirectOf<T>,
    deadline: Deadline,
  ): Promise<Step<T>> {
    try {
      const result = await send(peer, { timeoutMs: deadline.remainingMs(), signal: deadline.signal });
      return this.onAnswer(group, peer, result, redirectOf(result.response));
    } catch (error) {
      if (!RaftError.is(error)) throw error;
      const stopped = deadline.stopped();
      if (stopped === undefined) return this.onFailure(group, peer, error);
      // A leader silent until the deadline is forgotten, as braft's example clients forget it
      // after any failed call: the next call asks again instead of waiting on it again.
      if (stopped === "deadline") this.forgetLeader(group, peer);
      return { kind: "stopped", mayHaveTakenEffect: error.outcome !== "refused" };
    }
  }

  /** A response: the answer, or a redirect that moves the leader. */
  private onAnswer<T>(
    group: string,
    peer: PeerId,
    result: TypedResult<T>,
    redirect: Redirect | undefined,
  ): Step<T> {
    if (redirect === undefined) {
      if (this.routeTable.selectLeader(group) === undefined) this.routeTable.updateLeader(group, peer);
      return { kind: "answer", result: { ...result, peer } };
    }
    const leaderId = parsePeer(redirect.leaderId)?.toString();
    const moved = leaderId !== undefined && !peer.equals(leaderId);
    this.routeTable.updateLeader(group, moved ? leaderId : undefined);
    const error = new RaftError(
      "EPERM",
      `${peer.toString()} is not the leader of group ${group}${leaderId === undefined ? "" : `, ${leaderId} is`}` +
        (redirect.refused ? "" : " (it may have proposed the request)"),
      { leaderId, outcome: redirect.refused ? "refused" : "unknown" },
    );
    return { kind: "failed", error, retryable: true, moved, mayHaveTakenEffect: !redirect.refused };
  }

  /** A failed call: forget the leader if it no longer leads; move on if another node may answer. */
  private onFailure(group: string, peer: PeerId, error: RaftError): Step<never> {
    const leaderId = parsePeer(error.leaderId)?.toString();
    const moved = leaderId !== undefined && !peer.equals(leaderId);
    if (moved) this.routeTable.updateLeader(group, leaderId);
    else if (NOT_LEADER.has(error.code)) this.forgetLeader(group, peer);
    const mayHaveTakenEffect = error.outcome !== "refused";
    return { kind: "failed", error, retryable: RETRYABLE.has(error.code), moved, mayHaveTakenEffect };
  }

  /** `peer` is no longer taken for the leader (unless the table already moved on). */
  private forgetLeader(group: string, peer: PeerId): void {
    if (this.routeTable.selectLeader(group)?.equals(peer) === true)
      this.routeTable.updateLeader(group, undefined);
  }

  private defaultRedirect(service: DescService, method: string): RedirectOf<unknown> | undefined {
    const desc = service.methods.find((m) => m.name === method || m.localName === method);
    if (desc === undefined) return undefined; // callMethod reports it
    if (!this.redirects.has(desc.output)) this.redirects.set(desc.output, conventionalRedirect(desc.output));
    return this.redirects.get(desc.output);
  }
}

/** Sends the call to one peer, within what is left of the deadline. */
type Send<T> = (peer: PeerId, timing: { timeoutMs: number; signal: AbortSignal }) => Promise<TypedResult<T>>;

/**
 * What one attempt led to: the answer; a failure (`moved`: a new leader is known, so retry at
 * once); or the deadline or abort arrived while it was in flight.
 */
type Step<T> =
  | { readonly kind: "answer"; readonly result: LeaderCallResult<T> }
  | {
      readonly kind: "failed";
      readonly error: RaftError;
      readonly retryable: boolean;
      readonly moved: boolean;
      readonly mayHaveTakenEffect: boolean;
    }
  | { readonly kind: "stopped"; readonly mayHaveTakenEffect: boolean };

function stopError(
  reason: "deadline" | "aborted",
  what: string,
  timeoutMs: number,
  sent: boolean,
): RaftError {
  const outcome = sent ? "unknown" : "refused";
  return reason === "deadline"
    ? new RaftError("ERAFTTIMEDOUT", `${what} timed out after ${timeoutMs} ms`, { outcome })
    : new RaftError("ECANCELED", `${what} aborted`, { outcome });
}

/** A peer id from a node's answer; undefined when absent or malformed (ignored, not fatal). */
function parsePeer(text: string | undefined): PeerId | undefined {
  if (text === undefined || text === "") return undefined;
  try {
    return PeerId.parse(text);
  } catch {
    return undefined;
  }
}

function endpointOf(peer: PeerId | string): string {
  if (typeof peer !== "string") return peer.endpoint;
  const colons = peer.split(":").length - 1;
  return colons === 1 ? peer : PeerId.parse(peer).endpoint;
}
