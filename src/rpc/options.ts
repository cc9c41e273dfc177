/** Options of RaftServer and of the channels it dials, with their bounds and why. */
import type { RpcSnapshotTransferOptions } from "./snapshot-transfer.js";
import type { Logger } from "../env/logger.js";
import type { OperatorAccess } from "./operator-access.js";

/** PEM material as node:tls takes it. */
export type Pem = string | Buffer;

/**
 * TLS for the server and for the channels it dials. The same key and certificate serve both
 * roles, so with `requireClientCert` every peer authenticates every other (mutual TLS).
 */
export interface TlsOptions {
  readonly key: Pem;
  readonly cert: Pem;
  /** CAs that sign peers' certificates; Node's root store when absent. */
  readonly ca?: Pem | readonly Pem[] | undefined;
  /** Server: ask for a client certificate and refuse connections without a valid one. */
  readonly requireClientCert?: boolean | undefined;
  /** Channels: check the server certificate's name against the host dialed (default true). */
  readonly checkServerName?: boolean | undefined;
  /** Channels: the name to check instead of the host dialed (TLS SNI too). */
  readonly serverName?: string | undefined;
}

/** How channels to remote endpoints behave. */
export interface ChannelOptions {
  /** Gives up a connect (TCP and TLS handshake) after this long; brpc/braft use 200 ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** First wait after a failed connect; doubles per failure up to `reconnectBackoffMaxMs`. */
  readonly reconnectBackoffMinMs?: number | undefined;
  readonly reconnectBackoffMaxMs?: number | undefined;
  /** The largest response body accepted. */
  readonly maxBodyBytes?: number | undefined;
  /**
   * Calls fail with EBUSY (brpc's EOVERCROWDED) while this many bytes wait to be written:
   * a peer that stopped reading must not make this process buffer without bound.
   */
  readonly maxPendingWriteBytes?: number | undefined;
  /**
   * Maps a peer's `ip:port` to the address actually dialed (`host:port`). Consulted at every
   * connect, so a test can route a peer through a fault-injecting proxy.
   */
  readonly resolveAddress?: ((endpoint: string) => string) | undefined;
  readonly tls?: TlsOptions | undefined;
}

/** Options of {@link RaftServer}. */
export interface RaftServerOptions {
  /**
   * The address `start(port)` listens on when given a bare port: `127.0.0.1` (loopback) by
   * default, so nothing is exposed by accident; `"0.0.0.0"` for brpc's every-interface default.
   * `start("ip:port")` ignores it.
   */
  readonly host?: string | undefined;
  /**
   * Who may call CliService and LearnerService (membership changes, snapshot, transfer, reset):
   * `any` (default, as braft), `loopback` (operators on this machine only) or `none` (braft's
   * `disable_cli`, for every node of this server). Refused calls fail with EACCES; get_leader
   * is always answered. NodeOptions.disableCli refuses one node instead.
   */
  readonly cliAccess?: OperatorAccess | undefined;
  /**
   * Who may change flags with `POST /flags/<name>?setvalue=`: `loopback` (default), `any`, or
   * `none`. Reading `/flags` is open to all.
   */
  readonly flagChanges?: OperatorAccess | undefined;
  /**
   * Snapshot copy: the FileService's reader expiry and read bounds, and how followers copy
   * (chunk size = raft_max_byte_count_per_rpc, retries, a follower-side throttle).
   */
  readonly snapshotTransfer?: RpcSnapshotTransferOptions | undefined;
  /** Largest frame body accepted (brpc's -max_body_size); beyond it the connection is closed. */
  readonly maxBodyBytes?: number | undefined;
  /**
   * Requests a connection may have in flight; more are refused with ELIMIT (mapped to EBUSY)
   * instead of queued, so one client cannot make the server buffer without bound.
   */
  readonly maxInflightPerConnection?: number | undefined;
  /** Closes connections with nothing in flight and no traffic for this long; 0 disables. */
  readonly idleTimeoutMs?: number | undefined;
  /** Stops reading from a connection while this many response bytes wait to be written. */
  readonly maxPendingWriteBytes?: number | undefined;
  /** TLS for every connection to this server (HTTP included) and for its channels. */
  readonly tls?: TlsOptions | undefined;
  /** Options of the channels the server's `client` dials; `tls` defaults to the server's. */
  readonly channel?: ChannelOptions | undefined;
  /** Shorthand for `channel.resolveAddress`. */
  readonly resolveAddress?: ((endpoint: string) => string) | undefined;
  /**
   * Told about each connection closed for a protocol violation (bad magic, oversized frame,
   * unparsable meta). Nothing is logged otherwise: a port scanner must not flood the log.
   */
  readonly onConnectionError?: ((err: Error, remoteAddress: string) => void) | undefined;
  /**
   * The logger of this server's channels and of the nodes it hosts that have no
   * NodeOptions.logger; the process-wide one (setLogger) when absent.
   */
  readonly logger?: Logger | undefined;
  /**
   * Beyond braft: serve tsraft's LivenessService and let idle groups quiesce (docs/quiescence.md).
   * On by default; false makes this server look like braft's to its peers (every group heartbeats).
   */
  readonly quiescence?: boolean | undefined;
}

/** Defaults, named so the tests and docs can refer to them. */
export const RpcDefaults = {
  host: "127.0.0.1",
  connectTimeoutMs: 1000,
  reconnectBackoffMinMs: 10,
  reconnectBackoffMaxMs: 1000,
  maxPendingWriteBytes: 64 * 1024 * 1024,
  maxInflightPerConnection: 4096,
  idleTimeoutMs: 10 * 60 * 1000,
} as const;
