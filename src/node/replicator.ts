/**
 * braft's Replicator, shell side: the pipe to one peer. The core decides what to send and when
 * (next index, probing, the in-flight window); the Replicator performs the RPCs, bounds each by
 * a timeout, and reports answers and failures back in order of arrival.
 */
import { RaftError } from "../core/errors.js";
import type { Send } from "../core/events.js";
import type { InstallSnapshotHeader, InstallSnapshotResult, SnapshotMetaData } from "../core/messages.js";
import type { PeerKey } from "../core/types.js";
import type { RaftClient } from "../rpc/transport.js";

export interface ReplicatorHost {
  onResponse(send: Send, response: unknown): void;
  onFailure(send: Send, error: unknown): void;
  /** The snapshot to install on a follower, held until `release`; undefined when there is none. */
  openSnapshot(): Promise<{ meta: SnapshotMetaData; uri: string; release(): void } | undefined>;
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
  /** The snapshot offered to this follower, kept across install timeouts. */
  private heldSnapshot: { meta: SnapshotMetaData; uri: string; release(): void } | undefined;

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
    this.call(send)
      .finally(() => {
        this.inflightDataBytes -= dataBytes;
      })
      .then(
        (response) => {
          this.inflight--;
          this.consecutiveFailures = 0;
          this.lastResponseAtMs = this.nowMs();
          this.host.onResponse(send, response);
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

  private call(send: Send): Promise<unknown> {
    const { message } = send;
    switch (message.kind) {
      case "append":
        return this.client.appendEntries(this.peer, message.request, this.appendTimeoutMs(dataBytesOf(send)));
      case "vote":
        return this.client.requestVote(this.peer, message.request, this.rpcTimeoutMs);
      case "timeoutNow":
        return this.client.timeoutNow(this.peer, message.request, this.rpcTimeoutMs);
      case "installSnapshot":
        return this.installSnapshot(message.request);
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
   * would otherwise never finish).
   */
  private async installSnapshot(header: InstallSnapshotHeader): Promise<InstallSnapshotResult> {
    const snapshot = this.heldSnapshot ?? (await this.host.openSnapshot());
    if (snapshot === undefined) throw new RaftError("ENOENT", "no snapshot to send");
    this.heldSnapshot = snapshot;
    const install = this.client.installSnapshot;
    if (install === undefined) {
      this.releaseSnapshot();
      throw new RaftError("ENOSYS", "the transport cannot send snapshots");
    }
    const request = { ...header, meta: snapshot.meta, uri: snapshot.uri };
    try {
      const response = await install.call(
        this.client,
        this.peer,
        request,
        this.rpcTimeoutMs * INSTALL_TIMEOUT_FACTOR,
      );
      this.releaseSnapshot();
      return { ...response, lastIncludedIndex: snapshot.meta.lastIncludedIndex };
    } catch (error) {
      if (!(RaftError.is(error) && error.code === "ERAFTTIMEDOUT")) this.releaseSnapshot();
      throw error;
    }
  }

  /** Releases the snapshot held for this follower (an install answered, or leadership ended). */
  releaseSnapshot(): void {
    this.heldSnapshot?.release();
    this.heldSnapshot = undefined;
  }
}
