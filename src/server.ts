/**
 * The composition of a server: the rpc layer's RaftRpcServer with the status layer's pages and
 * Prometheus metrics on its port. It lives above both so that rpc never imports status
 * (docs/architecture.md).
 */
import type { Registry } from "prom-client";
import type { NodeAdmin } from "./node/ports.js";
import { RaftRpcServer } from "./rpc/raft-server.js";
import type { RaftServerOptions } from "./rpc/options.js";
import { installStatusPages } from "./status/index.js";
import { createServerMetrics, metricsHandler } from "./status/metrics.js";

/**
 * One port for the raft RPCs of every group this process hosts, braft's CliService and
 * FileService, the user's own services, and over HTTP `/raft_stat`, `/flags`, `/metrics` and the
 * dashboard (braft's brpc::Server with its builtin pages). It is the RaftHost a RaftNode takes
 * as NodeOptions.server.
 */
export class RaftServer extends RaftRpcServer {
  /** The prom-client registry behind `/metrics` (this server's own): register your metrics in it. */
  readonly metricsRegistry: Registry;

  constructor(options: RaftServerOptions = {}) {
    // The gauges read this server's nodes when scraped, which is after the constructor ran.
    const built: { server?: RaftServer } = {};
    const metrics = createServerMetrics((): NodeAdmin[] => built.server?.nodes() ?? []);
    super(options, metrics.sink);
    built.server = this;
    this.metricsRegistry = metrics.registry;
    this.addHttpRoute("/metrics", metricsHandler(metrics.registry));
    installStatusPages(this, { flagChanges: options.flagChanges ?? "loopback" });
  }
}
