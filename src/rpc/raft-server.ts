/**
 * RaftRpcServer: one port for the raft RPCs of every group this process hosts, the user's own
 * baidu_std services, and HTTP (sniffed from the first bytes, as brpc does). It is the
 * RaftHost a RaftNode takes as NodeOptions.server. The package's RaftServer (src/server.ts) is
 * this server with the status pages and the Prometheus metrics on its port.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import { DEFAULT_MAX_BODY_BYTES } from "./frame.js";
import { ChannelPool } from "./channel-pool.js";
import { addCliService } from "./cli-service.js";
import { HttpFront, type HttpHandler } from "./http-front.js";
import { RpcDefaults, type ChannelOptions, type RaftServerOptions } from "./options.js";
import { endpointOfPeer, splitEndpoint } from "../util/peer-text.js";
import { realEnv } from "../env/env.js";
import { ProcessLiveness } from "../node/process-liveness.js";
import { RpcLivenessTransport, addLivenessService } from "./liveness-service.js";
import { RpcSnapshotTransfer } from "./snapshot-transfer.js";
import { RaftRpcClient } from "./raft-client.js";
import { maxAppendDataBytes } from "./append-budget.js";
import { NodeDirectory, addRaftService } from "./raft-service-router.js";
import { IdleSweep, ServerConnection, type ConnectionConfig } from "./server-connection.js";
import { ServiceRegistry, type RawMethodHandler, type ServiceImpl } from "./service-registry.js";
import { addCliServicesLimited, isLoopbackAddress } from "./operator-access.js";
import type { DescService } from "@bufbuild/protobuf";
import { globalLogger, type Logger } from "../env/logger.js";
import { noopRaftMetrics, type RaftMetrics } from "../env/metrics.js";
import type { NodeAdmin, RaftClient, RaftHost, RaftService } from "../node/ports.js";
import { flags } from "../node/flags.js";

/** One port for raft RPCs of many groups, user services and HTTP (braft's brpc::Server). */
export class RaftRpcServer implements RaftHost {
  private readonly registry = new ServiceRegistry();
  private readonly directory = new NodeDirectory();
  private readonly http: HttpFront;
  private readonly pool: ChannelPool;
  private readonly connection: ConnectionConfig;
  private readonly connections = new Set<ServerConnection>();
  private readonly idleTimeoutMs: number;
  private idleSweep: ReturnType<typeof setInterval> | undefined;
  private listener: Server | undefined;
  private state: "new" | "starting" | "running" | "stopped" = "new";
  private boundAddress = "";

  /** The client a node uses to reach its peers; shares this server's channels. */
  readonly client: RaftClient;
  /** braft's FileService on this port and remote copy through its channels, for snapshots. */
  readonly snapshotTransfer: RpcSnapshotTransfer;
  /** Where this server's nodes and connections report (RaftServer: the metrics at `/metrics`). */
  readonly metrics: RaftMetrics;
  /** The logger of this server's channels and of its nodes without NodeOptions.logger. */
  readonly logger: Logger;
  /** Liveness per pair of servers, for quiet groups (docs/quiescence.md); off with `quiescence: false`. */
  readonly liveness: ProcessLiveness | undefined;
  /** This server's endpoint as its peers name it: that of the first node registered here. */
  private livenessEndpoint: string | undefined;

  /** `metrics`: where the nodes and connections report; none by default. */
  constructor(
    private readonly options: RaftServerOptions = {},
    metrics: RaftMetrics = noopRaftMetrics,
  ) {
    const idleTimeoutMs = options.idleTimeoutMs ?? RpcDefaults.idleTimeoutMs;
    this.idleTimeoutMs = idleTimeoutMs;
    this.logger = options.logger ?? globalLogger;
    this.http = new HttpFront(idleTimeoutMs);
    this.metrics = metrics;
    this.connection = {
      registry: this.registry,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxInflight: options.maxInflightPerConnection ?? RpcDefaults.maxInflightPerConnection,
      maxPendingWriteBytes: options.maxPendingWriteBytes ?? RpcDefaults.maxPendingWriteBytes,
      metrics: metrics.rpc,
      onProtocolError: (err, remoteAddress) => {
        try {
          options.onConnectionError?.(err, remoteAddress);
        } catch {
          // A failing hook must not take the server down with it.
        }
      },
      idle: new IdleSweep(),
      onHttp: (socket, head) => this.http.accept(socket, head),
      onClosed: (connection) => this.connections.delete(connection),
    };
    this.pool = new ChannelPool(channelOptionsOf(options), { metrics: metrics.rpc, logger: this.logger });
    this.client = new RaftRpcClient(this.pool);
    addRaftService(this.registry, this.directory);
    this.liveness =
      options.quiescence === false
        ? undefined
        : new ProcessLiveness(
            realEnv,
            new RpcLivenessTransport(this.pool),
            () => this.livenessEndpoint ?? this.boundAddress,
          );
    if (this.liveness !== undefined) addLivenessService(this.registry, this.directory, this.liveness);
    const cli = new ServiceRegistry();
    addCliService(cli, this);
    addCliServicesLimited(cli, this.registry, options.cliAccess ?? "any");
    this.snapshotTransfer = new RpcSnapshotTransfer(this, options.snapshotTransfer ?? {});
  }

  /**
   * The largest entry data an AppendEntries of `groupId` carries within the frame limit
   * (maxBodyBytes, brpc's -max_body_size, 64 MiB by default), which peers are assumed to share.
   */
  maxEntryDataBytes(groupId: string): number {
    return maxAppendDataBytes(this.connection.maxBodyBytes, groupId);
  }

  /** `ip:port` the server listens on (the real port when started on port 0); "" before start. */
  get address(): string {
    return this.boundAddress;
  }

  /** The channels this server dials, one per remote endpoint (for CLI and user calls too). */
  get channels(): ChannelPool {
    return this.pool;
  }

  /**
   * Listens on `"ip:port"`, or, given a bare port, on `RaftServerOptions.host`: loopback
   * (`127.0.0.1`) unless set, so a server nobody configured is not reachable from the network
   * (brpc's `Server::Start(int port)` listens on every interface: `host: "0.0.0.0"` or
   * `start("0.0.0.0:8100")` does that). Port 0 picks a free port; `address` then tells which.
   * Logs one line saying where the port is reachable from. Rejects with EINVAL when started
   * twice and with EIO when it cannot bind (e.g. the port is taken).
   */
  async start(addr: string | number): Promise<void> {
    if (this.state !== "new") throw new RaftError("EINVAL", `RaftServer cannot start: it is ${this.state}`);
    this.state = "starting";
    const { host, port } =
      typeof addr === "number"
        ? { host: this.options.host ?? RpcDefaults.host, port: addr }
        : splitEndpoint(addr);
    const listener = this.createListener();
    this.listener = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once("error", reject);
        listener.listen({ host, port }, () => {
          listener.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      this.state = "stopped";
      throw new RaftError("EIO", `cannot listen on ${host}:${port}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (this.state !== "starting") {
      listener.close();
      throw new RaftError("ESHUTDOWN", "RaftServer stopped while starting");
    }
    listener.on("error", () => undefined);
    const bound = listener.address() as AddressInfo;
    this.boundAddress = `${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`;
    this.state = "running";
    this.logger.info("raft server listening", {
      address: this.boundAddress,
      ...this.exposure(bound.address),
    });
  }

  /** What the start line says about who can reach this port and what they can do there. */
  private exposure(ip: string): Record<string, string> {
    const reachable = isLoopbackAddress(ip)
      ? "this machine only (loopback)"
      : ip === "0.0.0.0" || ip === "::"
        ? "every network interface"
        : `the network of ${ip}`;
    return {
      reachable_from: reachable,
      tls: this.options.tls === undefined ? "off" : "on",
      cli: this.options.cliAccess ?? "any",
      flag_changes: this.options.flagChanges ?? "loopback",
    };
  }

  /** Closes the port, every connection and every channel. Idempotent; resolves once closed. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.liveness?.stop();
    this.snapshotTransfer.close();
    this.pool.close();
    this.http.close();
    this.stopIdleSweep();
    for (const connection of this.connections) connection.socket.destroy();
    this.connections.clear();
    const listener = this.listener;
    if (listener === undefined || !listener.listening) return;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /** Routes RaftService requests for (groupId, peerId) to `service`; EEXIST if taken. */
  registerNode(groupId: string, peerId: PeerKey, service: RaftService): void {
    this.directory.register(groupId, peerId, service);
    this.livenessEndpoint ??= endpointOfPeer(peerId);
  }

  /** Stops routing to the node; its peers then get braft's ENOENT. */
  unregisterNode(groupId: string, peerId: PeerKey): void {
    this.directory.unregister(groupId, peerId);
  }

  /** The groups with a node registered here. */
  groupIds(): string[] {
    return this.directory.groupIds();
  }

  /** The operator handles of the nodes hosted here (all groups, or one), ordered by group then peer. */
  nodes(groupId?: string): NodeAdmin[] {
    return this.directory
      .nodes(groupId)
      .flatMap((service) => (service.admin === undefined ? [] : [service.admin]));
  }

  /** Serves a generated service (e.g. braft's CliService) on this port; EEXIST per duplicate method. */
  addService<S extends DescService>(service: S, impl: ServiceImpl<S>): void {
    this.registry.addService(service, impl);
  }

  /** Serves one method on raw bytes (brpc-style services without generated code). */
  addMethod(service: string, method: string, handler: RawMethodHandler): void {
    this.registry.addMethod(service, method, handler);
  }
  /** Stops serving a whole service (e.g. to replace the built-in FileService with an instrumented one). */
  removeService(service: string): void {
    this.registry.removeService(service);
  }

  /** Serves HTTP requests under `path` on this port (status pages). */
  addHttpRoute(path: string, handler: HttpHandler): void {
    this.http.addRoute(path, handler);
  }

  private createListener(): Server {
    // noDelay on the listener: set in C++ for each accepted socket, before any JavaScript runs.
    // allowHalfOpen: a client's EOF reaches ServerConnection, which closes at once instead of
    // Node's shutdown-then-close (node:http expects half-open sockets too).
    const socketOptions = { noDelay: true, allowHalfOpen: true };
    const tls = this.options.tls;
    if (tls === undefined) return createNetServer(socketOptions, (socket) => this.accept(socket));
    const server = createTlsServer(
      {
        ...socketOptions,
        key: tls.key,
        cert: tls.cert,
        ...(tls.ca === undefined ? {} : { ca: tls.ca as string | Buffer | (string | Buffer)[] }),
        requestCert: tls.requireClientCert === true,
        rejectUnauthorized: tls.requireClientCert === true,
        handshakeTimeout: RpcDefaults.connectTimeoutMs * 10,
      },
      (socket) => this.accept(socket),
    );
    // A failed handshake is that client's problem; the server carries on.
    server.on("tlsClientError", (err, socket) => {
      this.connection.onProtocolError(err, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`);
    });
    return server;
  }

  private accept(socket: Socket): void {
    if (this.state !== "running") {
      socket.destroy();
      return;
    }
    this.connections.add(new ServerConnection(socket, this.connection));
    if (this.idleSweep === undefined && this.idleTimeoutMs > 0) this.startIdleSweep();
  }

  /** One timer for every connection's idle timeout, running while there are connections. */
  private startIdleSweep(): void {
    const idle = this.connection.idle;
    this.idleSweep = setInterval(() => {
      idle.now++;
      for (const connection of this.connections) connection.sweepIfIdle(idle.now);
      if (this.connections.size === 0) this.stopIdleSweep();
    }, this.idleTimeoutMs / IdleSweep.TICKS);
    this.idleSweep.unref();
  }

  private stopIdleSweep(): void {
    clearInterval(this.idleSweep);
    this.idleSweep = undefined;
  }
}

/**
 * The options of a server's channels. The connect timeout is braft's
 * raft_rpc_channel_connect_timeout_ms (process-wide: one channel serves every group of the
 * process) unless `channel.connectTimeoutMs` sets it; a TLS handshake gets at least
 * RpcDefaults.connectTimeoutMs, since braft's 200 ms is a TCP connect's budget.
 */
export function channelOptionsOf(options: RaftServerOptions): ChannelOptions {
  const channel = options.channel ?? {};
  const tls = channel.tls ?? options.tls;
  const flagMs = flags.raft_rpc_channel_connect_timeout_ms;
  return {
    ...channel,
    connectTimeoutMs:
      channel.connectTimeoutMs ??
      (tls === undefined ? flagMs : Math.max(flagMs, RpcDefaults.connectTimeoutMs)),
    ...(channel.tls === undefined && options.tls !== undefined ? { tls: options.tls } : {}),
    ...(channel.resolveAddress === undefined && options.resolveAddress !== undefined
      ? { resolveAddress: options.resolveAddress }
      : {}),
  };
}
