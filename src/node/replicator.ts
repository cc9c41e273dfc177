/**
 * braft's Replicator, shell side: the pipe to one peer. The core decides what to send and when
 * (next index, probing, the in-flight window); the Replicator performs the RPCs, bounds each by
 * a timeout, and reports answers and failures back in order of arrival.
 */
import { RaftError } from "../core/errors.js";
import type { Send } from "../core/events.js";
import type {
  InstallSnapshotHeader,
  InstallSnapshotResult,
  PeerResponse,
  SnapshotMetaData,
} from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { RaftClient } from "./ports.js";

export interface ReplicatorHost {
  onResponse(send: Send, response: PeerResponse): void;
  onFailure(send: Send, error: unknown): void;
  /** The snapshot to install on a follower, held until `release`; undefined when there is none. */
  openSnapshot(): Promise<HeldSnapshot | undefined>;
}

/** A snapshot opened for sending to followers; `release` closes its reader. */
export interface HeldSnapshot {
  readonly meta: SnapshotMetaData;
  readonly uri: string;
  release(): void;
}

/** An install may take this many RPC timeouts (copying and loading happen before the answer). */
const INSTALL_TIMEOUT_FACTOR = 10;

/** Entry data bytes of an AppendEntries request (0 for a heartbeat). */
function dataBytesOf(send: Send): number {
  if (send.message.kind !== "append") return 0;
  let bytes = 0;
  for (const entry of send.message.request.entries) bytes += entry.data.length;
  return bytes;
}

export class Replicator {
  /** RPCs sent and not yet answered (appends, heartbeats, votes). */
  inflight = 0;
  /** Consecutive failed RPCs; reset by any answer. */
  consecutiveFailures = 0;
  lastResponseAtMs = Number.NEGATIVE_INFINITY;
  /** Core time of the newest request sent (braft's last_rpc_send_timestamp). */
  lastSendAtMs = Number.NEGATIVE_INFINITY;
  /** Core time of the newest heartbeat sent. */
  lastHeartbeatSendAtMs = Number.NEGATIVE_INFINITY;
  /** Requests sent, by kind (braft's hc, ac and ic counters). */
  heartbeatCount = 0;
  appendEntriesCount = 0;
  installSnapshotCount = 0;
  /** Entry data bytes in appends sent and not yet answered (they share one connection). */
  inflightDataBytes = 0;
  /**
   * The snapshot offered to this follower, kept across install timeouts and while any install
   * RPC is in flight, so every retry offers the same reader and URI.
   */
  private heldSnapshot: Promise<HeldSnapshot | undefined> | undefined;
  /** Install RPCs sent and not yet settled; the held snapshot outlives all of them. */
  private installsInFlight = 0;

  /**
   * @param appendBytesPerTimeout an append gets one `rpcTimeoutMs` per this many bytes of entry
   *   data in flight to the peer, its own included (raft_max_body_size): see appendTimeoutMs.
   */
  constructor(
    readonly peer: PeerKey,
    private readonly client: RaftClient,
    private readonly rpcTimeoutMs: number,
    private readonly host: ReplicatorHost,
    private readonly nowMs: () => number,
    private readonly appendBytesPerTimeout = Number.POSITIVE_INFINITY,
  ) {}

  send(send: Send): void {
    this.inflight++;
    this.count(send);
    const dataBytes = dataBytesOf(send);
    this.inflightDataBytes += dataBytes;
    const { message } = send;
    switch (message.kind) {
      case "append": {
        const timeoutMs = this.appendTimeoutMs(dataBytes);
        const call = this.client.appendEntries(this.peer, message.request, timeoutMs);
        return this.track(send, dataBytes, call, (response) => ({ kind: "append", response }));
      }
      case "vote": {
        const call = this.client.requestVote(this.peer, message.request, this.rpcTimeoutMs);
        return this.track(send, dataBytes, call, (response) => ({ kind: "vote", response }));
      }
      case "timeoutNow": {
        const call = this.client.timeoutNow(this.peer, message.request, this.rpcTimeoutMs);
        return this.track(send, dataBytes, call, (response) => ({ kind: "timeoutNow", response }));
      }
      case "installSnapshot": {
        const call = this.installSnapshot(message.request);
        return this.track(send, dataBytes, call, (response) => ({ kind: "installSnapshot", response }));
      }
    }
  }

  /** Reports the outcome of `call` to the host, its answer tagged with the request's kind. */
  private track<R>(
    send: Send,
    dataBytes: number,
    call: Promise<R>,
    tag: (response: R) => PeerResponse,
  ): void {
    call
      .finally(() => {
        this.inflightDataBytes -= dataBytes;
      })
      .then(
        (response) => {
          this.inflight--;
          this.consecutiveFailures = 0;
          this.lastResponseAtMs = this.nowMs();
          this.host.onResponse(send, tag(response));
        },
        (error: unknown) => {
          this.inflight--;
          this.consecutiveFailures++;
          this.host.onFailure(send, error);
        },
      );
  }

  /** Bookkeeping for the status page: two field writes per request, no clock read. */
  private count(send: Send): void {
    this.lastSendAtMs = send.createdAtMs;
    if (send.heartbeat) {
      this.heartbeatCount++;
      this.lastHeartbeatSendAtMs = send.createdAtMs;
    } else if (send.message.kind === "append") {
      this.appendEntriesCount++;
    } else if (send.message.kind === "installSnapshot") {
      this.installSnapshotCount++;
    }
  }

  /**
   * The timeout of an append: one RPC timeout per raft_max_body_size of entry data queued to this
   * peer up to and including it (heartbeats: one). An entry of tens of MiB on a slow link takes
   * longer than an election timeout to send; timing it out would resend it behind its own first
   * copy, forever. braft gives appends no timeout at all and relies on heartbeats to notice a
   * dead peer; tsraft keeps a bound, so a lost append is still retried, but one that grows with
   * the bytes (heartbeats travel on their own connection meanwhile: RpcLane).
   */
  private appendTimeoutMs(dataBytes: number): number {
    if (dataBytes === 0) return this.rpcTimeoutMs;
    return this.rpcTimeoutMs * Math.max(1, Math.ceil(this.inflightDataBytes / this.appendBytesPerTimeout));
  }

  /**
   * Sends the newest snapshot. The follower answers only once it copied and loaded it, so the
   * timeout is long. A timeout may leave the follower still copying: the retry offers the same
   * reader and URI, so the follower joins that copy instead of starting over (a large snapshot
   * would otherwise never finish). A follower that joins answers the earlier request with a
   * refusal while the later one goes on; the reader is released only when no install is left in
   * flight, or the copy would lose its source halfway (and start over on the next retry).
   */
  private async installSnapshot(header: InstallSnapshotHeader): Promise<InstallSnapshotResult> {
    // Counted from the start: a concurrent install settling meanwhile must not release the
    // snapshot this one is about to offer.
    this.installsInFlight++;
    let final = true;
    try {
      const snapshot = await this.acquireSnapshot();
      const install = this.client.installSnapshot;
      if (install === undefined) throw new RaftError("ENOSYS", "the transport cannot send snapshots");
      const request = { ...header, meta: snapshot.meta, uri: snapshot.uri };
      const timeoutMs = this.rpcTimeoutMs * INSTALL_TIMEOUT_FACTOR;
      const response = await install.call(this.client, this.peer, request, timeoutMs);
      return { ...response, lastIncludedIndex: snapshot.meta.lastIncludedIndex };
    } catch (error) {
      final = !(RaftError.is(error) && error.code === "ERAFTTIMEDOUT");
      throw error;
    } finally {
      this.installSettled(final);
    }
  }

  /** The held snapshot, opened on first use; a failed or empty open is not kept. */
  private async acquireSnapshot(): Promise<HeldSnapshot> {
    const opening = (this.heldSnapshot ??= this.host.openSnapshot());
    const forget = (): void => {
      if (this.heldSnapshot === opening) this.heldSnapshot = undefined;
    };
    const snapshot = await opening.catch((error: unknown) => {
      forget();
      throw error;
    });
    if (snapshot === undefined) {
      forget();
      throw new RaftError("ENOENT", "no snapshot to send");
    }
    return snapshot;
  }

  /** An install RPC settled; `final` unless it timed out (the follower may still be copying). */
  private installSettled(final: boolean): void {
    this.installsInFlight--;
    if (final && this.installsInFlight === 0) this.releaseSnapshot();
  }

  /** Releases the snapshot held for this follower (an install answered, or leadership ended). */
  releaseSnapshot(): void {
    const held = this.heldSnapshot;
    this.heldSnapshot = undefined;
    void held?.then(
      (snapshot) => snapshot?.release(),
      () => undefined, // a failed open holds nothing
    );
  }
}
