/**
 * The simulated network between simulated processes: random delays (hence reordering), loss,
 * duplication, partitions, one-way cuts and process crashes, all driven by the scheduler and a
 * Prng so a run replays from its seed. Nodes reach it through the RaftHost interface, exactly as
 * they reach a real RaftServer.
 */
import { RaftError, type ErrorCode } from "../core/errors.js";
import type {
  InstallSnapshotRequest,
  InstallSnapshotResponse,
  QuiesceRequest,
  QuiesceResponse,
  ReadIndexRequest,
  ReadIndexResponse,
} from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { CancelTimer } from "../env/env.js";
import type {
  LivenessAck,
  LivenessHeartbeat,
  LivenessTransport,
  RaftClient,
  RaftHost,
  RaftService,
} from "../node/ports.js";
import { laneOfAppend, type RpcLane } from "../rpc/lanes.js";
import type { Prng } from "./prng.js";
import type { SimScheduler } from "./sim-scheduler.js";

/** How every message behaves; change at run time with setOptions. */
export interface SimNetworkOptions {
  /** One-way delay bounds; each message draws uniformly in [min, max). */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Probability that one direction of a call is lost. */
  readonly lossRate: number;
  /** Probability that a message is delivered twice (the extra response is ignored). */
  readonly duplicateRate: number;
  /**
   * Bytes per virtual ms each connection carries; unset means infinitely fast (every seed before
   * this option). When set, a message occupies its connection for `bytes / bandwidth` ms before
   * its delay starts, and messages on one connection go out one after another, as on TCP.
   */
  readonly bandwidthBytesPerMs?: number | undefined;
  /**
   * The receiver's largest frame body (brpc's -max_body_size); a larger request makes it close
   * the connection, and the call fails with EHOSTUNREACH. Unset: no limit.
   */
  readonly maxBodyBytes?: number | undefined;
}

/** Bytes on the wire of a message as the simulator counts them: entry data plus a flat overhead. */
export function simWireBytes(message: unknown): number {
  const entries = (message as { entries?: readonly { data?: Uint8Array }[] } | undefined)?.entries;
  let bytes = SIM_MESSAGE_OVERHEAD_BYTES;
  if (Array.isArray(entries)) for (const entry of entries) bytes += 64 + (entry.data?.length ?? 0);
  return bytes;
}

/** What the simulator charges every message for its framing and header fields. */
const SIM_MESSAGE_OVERHEAD_BYTES = 256;

/**
 * A message on one direction of one connection: messages queue on it when bandwidth is limited.
 * Each pair of processes has one connection per lane, as RaftServer's channels do (RpcLane).
 */
interface Link {
  readonly from: PeerKey;
  readonly to: PeerKey;
  readonly lane: RpcLane;
  readonly bytes: number;
}

/** The lane a request travels on, by the rule of the real transport. */
function laneOfRequest(request: unknown): RpcLane {
  const entries = (request as { entries?: unknown } | undefined)?.entries;
  return Array.isArray(entries) ? laneOfAppend({ entries }) : "control";
}

/** Message counters; a request and its response count as two messages. */
export interface SimNetworkStats {
  readonly sent: number;
  readonly delivered: number;
  /** Lost at random, cut by a fault, addressed to nobody, or in flight at a crash. */
  readonly dropped: number;
  readonly duplicated: number;
  /** Calls that rejected with ERAFTTIMEDOUT. */
  readonly timedOut: number;
}

interface Registration {
  readonly service: RaftService;
  readonly hostKey: PeerKey;
  readonly incarnation: number;
}

/** One RPC awaiting its answer. */
interface PendingCall {
  readonly callerKey: PeerKey;
  readonly callerIncarnation: number;
  settled: boolean;
  cancelTimeout: CancelTimer;
  resolve(response: unknown): void;
  reject(error: RaftError): void;
}

/** An answer as it travels back: plain data, since an Error does not survive a copy. */
type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      readonly leaderId: string | undefined;
    };

function routeKey(groupId: string, peerId: PeerKey): string {
  return `${groupId}\u0000${peerId}`;
}

/**
 * A simulated network. Requests are routed by (groupId, peerId) as registered; faults and
 * crashes name processes by the key given to host(), so with one node per process use the
 * node's PeerKey for both.
 */
export class SimNetwork {
  readonly #scheduler: SimScheduler;
  readonly #prng: Prng;
  #options: SimNetworkOptions;
  readonly #routes = new Map<string, Registration>();
  readonly #hosts = new Map<PeerKey, SimHost>();
  readonly #incarnations = new Map<PeerKey, number>();
  /** Messages numbered below this were in flight (or never sent) when the process crashed. */
  readonly #crashSeq = new Map<PeerKey, number>();
  readonly #pendingCalls = new Map<PeerKey, Set<PendingCall>>();
  #groupOf: Map<PeerKey, number> | undefined;
  readonly #cuts = new Set<string>();
  /** When each connection finishes sending what is queued on it (bandwidth-limited runs only). */
  readonly #linkBusyUntilMs = new Map<string, number>();
  #messageSeq = 0;
  #stats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, timedOut: 0 };
  /**
   * Until when (virtual ms) process `peer` is paused: what reaches it meanwhile waits in its
   * socket buffer and is handled when it resumes. (The caller-side RPC timeouts keep running.)
   */
  pausedUntil: ((peer: PeerKey) => number) | undefined;

  constructor(scheduler: SimScheduler, prng: Prng, options: SimNetworkOptions) {
    this.#scheduler = scheduler;
    this.#prng = prng;
    this.#options = validated(options);
  }

  /** A snapshot of the message counters. */
  get stats(): SimNetworkStats {
    return { ...this.#stats };
  }

  /** The options in force now. */
  get options(): SimNetworkOptions {
    return this.#options;
  }

  /** The RaftHost of process `peer`'s current incarnation (the same object until it crashes). */
  host(peer: PeerKey): SimHost {
    let host = this.#hosts.get(peer);
    if (host === undefined) {
      host = new SimHost(this.#portFor(peer, this.#incarnation(peer)));
      this.#hosts.set(peer, host);
    }
    return host;
  }

  /** Changes delay, loss or duplication from now on; messages in flight keep their fate. */
  setOptions(options: Partial<SimNetworkOptions>): void {
    this.#options = validated({ ...this.#options, ...options });
  }

  /** Only peers in the same group talk; peers not listed are isolated. Replaces any partition. */
  partition(groups: readonly (readonly PeerKey[])[]): void {
    const groupOf = new Map<PeerKey, number>();
    groups.forEach((group, i) => {
      for (const peer of group) {
        if (groupOf.has(peer)) throw new Error(`SimNetwork.partition: ${peer} is in two groups`);
        groupOf.set(peer, i);
      }
    });
    this.#groupOf = groupOf;
  }

  /** Drops every message from `from` to `to` (the other direction still flows). */
  cutOneWay(from: PeerKey, to: PeerKey): void {
    this.#cuts.add(`${from}\u0000${to}`);
  }

  /** Removes every partition and cut. */
  heal(): void {
    this.#groupOf = undefined;
    this.#cuts.clear();
  }

  /** Whether a message sent now from `from` to `to` could pass the faults. */
  linkOpen(from: PeerKey, to: PeerKey): boolean {
    if (from === to) return true;
    if (this.#cuts.has(`${from}\u0000${to}`)) return false;
    if (this.#groupOf === undefined) return true;
    const groupFrom = this.#groupOf.get(from);
    return groupFrom !== undefined && groupFrom === this.#groupOf.get(to);
  }

  /**
   * Process `peer` crashed: its services are gone, every message to or from it in flight is
   * dropped, and its calls never settle. Its old RaftHost goes inert; host(peer) makes a new one.
   */
  crash(peer: PeerKey): void {
    this.#incarnations.set(peer, this.#incarnation(peer) + 1);
    this.#crashSeq.set(peer, this.#messageSeq);
    this.#hosts.delete(peer);
    for (const [key, route] of this.#routes) if (route.hostKey === peer) this.#routes.delete(key);
    for (const call of this.#pendingCalls.get(peer) ?? []) {
      call.settled = true;
      call.cancelTimeout();
    }
    this.#pendingCalls.delete(peer);
  }

  #incarnation(peer: PeerKey): number {
    return this.#incarnations.get(peer) ?? 0;
  }

  #portFor(peer: PeerKey, incarnation: number): HostPort {
    const isCurrent = (): boolean => this.#incarnation(peer) === incarnation;
    return {
      register: (groupId, peerId, service) => {
        if (isCurrent()) this.#register(peer, incarnation, groupId, peerId, service);
      },
      unregister: (groupId, peerId) => {
        if (isCurrent()) this.#unregister(peer, groupId, peerId);
      },
      maxBodyBytes: () => this.#options.maxBodyBytes,
      // A dead incarnation's calls go nowhere and its timers are dead too: they never settle.
      call: (to, groupId, request, timeoutMs, invoke) =>
        isCurrent()
          ? this.#call(peer, incarnation, to, groupId, request, timeoutMs, invoke)
          : new Promise<never>(() => {}),
    };
  }

  #register(
    hostKey: PeerKey,
    incarnation: number,
    groupId: string,
    peerId: PeerKey,
    service: RaftService,
  ): void {
    const key = routeKey(groupId, peerId);
    // A process serves its liveness once per incarnation; a restart after a clean stop replaces it.
    if (this.#routes.has(key) && groupId !== LIVENESS_GROUP)
      throw new RaftError("EEXIST", `${peerId} already serves group ${groupId}`);
    this.#routes.set(key, { service, hostKey, incarnation });
  }

  #unregister(hostKey: PeerKey, groupId: string, peerId: PeerKey): void {
    const key = routeKey(groupId, peerId);
    if (this.#routes.get(key)?.hostKey === hostKey) this.#routes.delete(key);
  }

  #call<Req, Res>(
    callerKey: PeerKey,
    callerIncarnation: number,
    to: PeerKey,
    groupId: string,
    request: Req,
    timeoutMs: number,
    invoke: (service: RaftService, request: Req) => Promise<Res>,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const call = this.#track(callerKey, callerIncarnation, resolve as (value: unknown) => void, reject);
      // timeoutMs <= 0 means no timeout: braft sends install_snapshot that way.
      if (timeoutMs > 0) call.cancelTimeout = this.#armTimeout(call, to, timeoutMs);
      const link = { from: callerKey, to, lane: laneOfRequest(request), bytes: simWireBytes(request) };
      const maxBodyBytes = this.#options.maxBodyBytes;
      if (maxBodyBytes !== undefined && link.bytes > maxBodyBytes) {
        this.#refuseTooLarge(call, link, maxBodyBytes);
        return;
      }
      // The wire carries a copy taken at send time, as bytes on a socket would be.
      this.#transmit(
        structuredClone(request),
        (seq, delivered) =>
          this.#deliverRequest(call, seq, routeKey(groupId, to), link.lane, (service) =>
            invoke(service, delivered),
          ),
        link,
      );
    });
  }

  /** The receiver reads the header, sees a body over its limit and closes the connection. */
  #refuseTooLarge(call: PendingCall, link: Link, maxBodyBytes: number): void {
    this.#stats.sent++;
    this.#stats.dropped++;
    this.#scheduler.schedule(this.#delayMs() * 2, () => {
      if (!this.#settle(call)) return;
      const text = `request of ${link.bytes} bytes to ${link.to} exceeds its max body size ${maxBodyBytes}`;
      call.reject(new RaftError("EHOSTUNREACH", text));
    });
  }

  /** Extra delay of a message queued behind the earlier ones on its connection; 0 without a bandwidth limit. */
  #queueingDelayMs(link: Link | undefined): number {
    const bandwidth = this.#options.bandwidthBytesPerMs;
    if (bandwidth === undefined || link === undefined) return 0;
    const key = `${link.from}\u0000${link.to}\u0000${link.lane}`;
    const now = this.#scheduler.nowMs;
    const start = Math.max(now, this.#linkBusyUntilMs.get(key) ?? now);
    const end = start + link.bytes / bandwidth;
    this.#linkBusyUntilMs.set(key, end);
    return end - now;
  }

  #armTimeout(call: PendingCall, to: PeerKey, timeoutMs: number): CancelTimer {
    return this.#scheduler.schedule(timeoutMs, () => {
      if (!this.#settle(call)) return;
      this.#stats.timedOut++;
      const text = `rpc from ${call.callerKey} to ${to} timed out after ${timeoutMs} ms`;
      call.reject(new RaftError("ERAFTTIMEDOUT", text));
    });
  }

  #track(
    callerKey: PeerKey,
    callerIncarnation: number,
    resolve: (value: unknown) => void,
    reject: (error: RaftError) => void,
  ): PendingCall {
    const call = { callerKey, callerIncarnation, settled: false, cancelTimeout: () => {}, resolve, reject };
    const calls = this.#pendingCalls.get(callerKey) ?? new Set<PendingCall>();
    this.#pendingCalls.set(callerKey, calls.add(call));
    return call;
  }

  /** Marks `call` answered; false if it already was (late, duplicate, or its caller crashed). */
  #settle(call: PendingCall): boolean {
    if (call.settled) return false;
    call.settled = true;
    call.cancelTimeout();
    this.#pendingCalls.get(call.callerKey)?.delete(call);
    return true;
  }

  /**
   * Sends one message: lost, or delivered once or twice after random delays. Invariant:
   * sent + duplicated === delivered + dropped + (copies still in flight).
   */
  #transmit<T>(payload: T, deliver: (seq: number, payload: T) => void, link?: Link): void {
    const seq = this.#messageSeq++;
    const queueingMs = this.#queueingDelayMs(link);
    this.#stats.sent++;
    // Both draws happen for every message, so a rate change does not shift later draws.
    const lost = this.#prng.chance(this.#options.lossRate);
    const duplicated = this.#prng.chance(this.#options.duplicateRate);
    if (lost) {
      this.#stats.dropped++;
      return;
    }
    this.#scheduler.schedule(queueingMs + this.#delayMs(), () => deliver(seq, payload));
    if (!duplicated) return;
    this.#stats.duplicated++;
    const copy = structuredClone(payload);
    this.#scheduler.schedule(queueingMs + this.#delayMs(), () => deliver(seq, copy));
  }

  #delayMs(): number {
    return this.#prng.between(this.#options.minDelayMs, this.#options.maxDelayMs);
  }

  /** Whether message `seq` from `from` to `to` survives faults and crashes at delivery. */
  #passes(from: PeerKey, to: PeerKey, seq: number): boolean {
    const sentAfterCrashes = seq >= (this.#crashSeq.get(from) ?? 0) && seq >= (this.#crashSeq.get(to) ?? 0);
    return sentAfterCrashes && this.linkOpen(from, to);
  }

  #deliverRequest(
    call: PendingCall,
    seq: number,
    key: string,
    lane: RpcLane,
    invoke: (service: RaftService) => Promise<unknown>,
  ): void {
    const route = this.#routes.get(key);
    if (
      route !== undefined &&
      this.#heldWhilePaused(route.hostKey, () => this.#deliverRequest(call, seq, key, lane, invoke))
    )
      return;
    if (route === undefined || !this.#passes(call.callerKey, route.hostKey, seq)) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.delivered++;
    let answer: Promise<unknown>;
    try {
      answer = invoke(route.service);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (value) => this.#reply(call, route, lane, { ok: true, value }),
      (error: unknown) => this.#replyError(call, route, lane, error),
    );
  }

  #replyError(call: PendingCall, route: Registration, lane: RpcLane, error: unknown): void {
    if (RaftError.is(error)) {
      const { code, message, leaderId } = error;
      this.#reply(call, route, lane, { ok: false, code, message, leaderId });
      return;
    }
    // The RaftService contract allows only RaftError: anything else is a bug in the node.
    // Fail the run loudly (runFor rejects) instead of turning it into a network error.
    this.#scheduler.schedule(0, () => {
      throw new Error(`SimNetwork: service ${route.hostKey} threw a non-RaftError`, { cause: error });
    });
  }

  /** Sends the answer back on the connection its request came in on. */
  #reply(call: PendingCall, route: Registration, lane: RpcLane, outcome: Outcome): void {
    // The responder crashed while handling the request: it never answers.
    if (this.#incarnation(route.hostKey) !== route.incarnation) return;
    this.#transmit(
      structuredClone(outcome),
      (seq, delivered) => this.#deliverResponse(call, route.hostKey, seq, delivered),
      {
        from: route.hostKey,
        to: call.callerKey,
        lane,
        bytes: simWireBytes(outcome.ok ? outcome.value : undefined),
      },
    );
  }

  /** Re-delivers at the end of `peer`'s pause (true) or says it is not paused (false). */
  #heldWhilePaused(peer: PeerKey, deliver: () => void): boolean {
    const untilMs = this.pausedUntil?.(peer) ?? 0;
    if (untilMs <= this.#scheduler.nowMs) return false;
    this.#scheduler.schedule(untilMs - this.#scheduler.nowMs, deliver);
    return true;
  }

  #deliverResponse(call: PendingCall, from: PeerKey, seq: number, outcome: Outcome): void {
    if (this.#heldWhilePaused(call.callerKey, () => this.#deliverResponse(call, from, seq, outcome))) return;
    const callerAlive = this.#incarnation(call.callerKey) === call.callerIncarnation;
    if (!callerAlive || !this.#passes(from, call.callerKey, seq)) {
      this.#stats.dropped++;
      return;
    }
    this.#stats.delivered++;
    // A late (timed-out) or duplicate answer reaches the caller, which ignores it.
    if (!this.#settle(call)) return;
    if (outcome.ok) call.resolve(outcome.value);
    else call.reject(new RaftError(outcome.code, outcome.message, { leaderId: outcome.leaderId }));
  }
}

/** What a SimHost may do on the network, bound to one incarnation of its process. */
interface HostPort {
  register(groupId: string, peerId: PeerKey, service: RaftService): void;
  unregister(groupId: string, peerId: PeerKey): void;
  maxBodyBytes(): number | undefined;
  call<Req, Res>(
    to: PeerKey,
    groupId: string,
    request: Req,
    timeoutMs: number,
    invoke: (service: RaftService, request: Req) => Promise<Res>,
  ): Promise<Res>;
}

/** The route of a process's LivenessService: this group, and its endpoint as the peer. */
const LIVENESS_GROUP = "\u0000tsraft.LivenessService";

/** A process's liveness handler, carried where a node's RaftService would be. */
interface LivenessCarrier extends RaftService {
  heartbeat(request: LivenessHeartbeat): Promise<LivenessAck>;
}

/** One incarnation of a process on the network. After a crash it is inert. */
export class SimHost implements RaftHost {
  readonly client: RaftClient;
  /** tsraft's LivenessService calls from this process (ProcessLiveness's transport). */
  readonly livenessTransport: LivenessTransport;
  readonly #port: HostPort;

  constructor(port: HostPort) {
    this.#port = port;
    this.client = {
      requestVote: (to, req, ms) => port.call(to, req.groupId, req, ms, (s, r) => s.requestVote(r)),
      appendEntries: (to, req, ms) => port.call(to, req.groupId, req, ms, (s, r) => s.appendEntries(r)),
      timeoutNow: (to, req, ms) => port.call(to, req.groupId, req, ms, (s, r) => s.timeoutNow(r)),
      installSnapshot: (to, req, ms) => port.call(to, req.groupId, req, ms, installSnapshotOf),
      readIndex: (to, req, ms) => port.call(to, req.groupId, req, ms, readIndexOf),
    };
    this.livenessTransport = {
      heartbeat: (endpoint, req, ms) =>
        port.call(endpoint, LIVENESS_GROUP, req, ms, (s, r) => (s as LivenessCarrier).heartbeat(r)),
      quiesce: (to, req, ms) => port.call(to, req.groupId, req, ms, quiesceOf),
    };
  }

  /** Serves this process's LivenessService at `endpoint` (`ip:port`) until the process crashes. */
  serveLiveness(endpoint: string, heartbeat: (request: LivenessHeartbeat) => LivenessAck): void {
    const serve = async (request: LivenessHeartbeat): Promise<LivenessAck> => heartbeat(request);
    const refuse = (): Promise<never> => Promise.reject(new RaftError("ENOSYS", "not a raft node"));
    const carrier: LivenessCarrier = {
      requestVote: refuse,
      appendEntries: refuse,
      timeoutNow: refuse,
      heartbeat: serve,
    };
    this.#port.register(LIVENESS_GROUP, endpoint, carrier);
  }

  registerNode(groupId: string, peerId: PeerKey, service: RaftService): void {
    this.#port.register(groupId, peerId, service);
  }

  unregisterNode(groupId: string, peerId: PeerKey): void {
    this.#port.unregister(groupId, peerId);
  }

  /** The frame limit minus what the simulator charges one AppendEntries of one entry (any group). */
  maxEntryDataBytes(groupId?: string): number {
    void groupId;
    const maxBodyBytes = this.#port.maxBodyBytes();
    return maxBodyBytes === undefined
      ? Number.POSITIVE_INFINITY
      : maxBodyBytes - simWireBytes({ entries: [{ data: new Uint8Array(0) }] });
  }
}

/** A node that does not serve install_snapshot answers ENOSYS, as over the wire. */
function readIndexOf(service: RaftService, request: ReadIndexRequest): Promise<ReadIndexResponse> {
  if (service.readIndex === undefined)
    return Promise.reject(new RaftError("ENOSYS", "read_index is not served"));
  return service.readIndex(request);
}

function quiesceOf(service: RaftService, request: QuiesceRequest): Promise<QuiesceResponse> {
  if (service.quiesce === undefined) return Promise.reject(new RaftError("ENOSYS", "quiesce is not served"));
  return service.quiesce(request);
}

function installSnapshotOf(
  service: RaftService,
  request: InstallSnapshotRequest,
): Promise<InstallSnapshotResponse> {
  if (service.installSnapshot === undefined) {
    return Promise.reject(new RaftError("ENOSYS", "install_snapshot is not served here"));
  }
  return service.installSnapshot(request);
}

function validated(options: SimNetworkOptions): SimNetworkOptions {
  const { minDelayMs, maxDelayMs, lossRate, duplicateRate, bandwidthBytesPerMs, maxBodyBytes } = options;
  if (bandwidthBytesPerMs !== undefined && !(bandwidthBytesPerMs > 0)) {
    throw new RangeError(`SimNetwork: bandwidthBytesPerMs must be positive, got ${bandwidthBytesPerMs}`);
  }
  if (maxBodyBytes !== undefined && !(maxBodyBytes > 0)) {
    throw new RangeError(`SimNetwork: maxBodyBytes must be positive, got ${maxBodyBytes}`);
  }
  if (!(minDelayMs >= 0 && minDelayMs <= maxDelayMs)) {
    throw new RangeError(`SimNetwork: need 0 <= minDelayMs <= maxDelayMs, got ${minDelayMs}..${maxDelayMs}`);
  }
  checkRate("lossRate", lossRate);
  checkRate("duplicateRate", duplicateRate);
  return { minDelayMs, maxDelayMs, lossRate, duplicateRate, bandwidthBytesPerMs, maxBodyBytes };
}

function checkRate(name: string, rate: number): void {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`SimNetwork: ${name} must be in [0, 1], got ${rate}`);
}
