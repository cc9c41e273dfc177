/**
 * The sink the node and rpc layers report to as things happen. RaftServer provides one backed by
 * Prometheus (src/status/metrics.ts); hosts without metrics (the simulator, in-process tests) get
 * the no-op. Hot-path rule: callers observe once per batch or RPC, never per entry, and a node's
 * labels are resolved once, when its NodeMetrics is made.
 */

/** The snapshot operations a node counts and times. */
export type SnapshotOp = "save" | "load" | "install";

/** What one node reports; made once per node (its group and peer labels already bound). */
export interface NodeMetrics {
  /** This node learned of a new leader: itself (an election won) or another node. */
  leaderChanged(): void;
  /** This node started an election round: a pre-vote, or a vote in a new term. */
  electionStarted(preVote: boolean): void;
  /** One LogManager write batch (entries and meta, fsync included) took `seconds`. */
  observeAppend(seconds: number): void;
  /** One fsync of the local:// log took `seconds`. */
  observeFsync(seconds: number): void;
  /** A snapshot operation ended after `seconds`; `ok` false when it failed or was cancelled. */
  snapshotFinished(op: SnapshotOp, seconds: number, ok: boolean): void;
  /** The node shut down: its series leave the registry. */
  close(): void;
}

/**
 * Raw bytes one side of the wire read and wrote. Plain fields, added to per socket read and
 * write (not per message); the registry reads them when scraped.
 */
export interface TrafficCounter {
  bytesIn: number;
  bytesOut: number;
}

/** What the rpc layer reports. */
export interface RpcMetrics {
  /** The traffic of every baidu_std connection the server accepted. */
  readonly server: TrafficCounter;
  /** The traffic of the channel to `endpoint` (`ip:port`); asked once per channel. */
  channel(endpoint: string): TrafficCounter;
  /** A request to `service.method` on this server failed (the handler threw or refused). */
  serverError(service: string, method: string): void;
  /** A call this process made to `service.method` failed with `code` (a RaftError code). */
  clientError(service: string, method: string, code: string): void;
}

/** A host's metrics: one NodeMetrics per node, one RpcMetrics for the wire. */
export interface RaftMetrics {
  node(groupId: string, peerId: string): NodeMetrics;
  readonly rpc: RpcMetrics;
}

const noop = (): void => undefined;

/** Reports nothing. */
export const noopNodeMetrics: NodeMetrics = {
  leaderChanged: noop,
  electionStarted: noop,
  observeAppend: noop,
  observeFsync: noop,
  snapshotFinished: noop,
  close: noop,
};

/** Counts into a throwaway counter nobody reads. */
export const noopRpcMetrics: RpcMetrics = {
  server: { bytesIn: 0, bytesOut: 0 },
  channel: () => ({ bytesIn: 0, bytesOut: 0 }),
  serverError: noop,
  clientError: noop,
};

/** The metrics of a host that keeps none. */
export const noopRaftMetrics: RaftMetrics = { node: () => noopNodeMetrics, rpc: noopRpcMetrics };
