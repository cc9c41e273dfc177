/**
 * `/metrics` on a RaftServer's port, in the Prometheus text format: each server has its own
 * prom-client Registry (several servers share a process in tests and demos; the global default
 * registry is never touched). Gauges are read from NodeStatus when scraped; the counters and
 * histograms of src/status/metrics-events.ts are fed as things happen. docs/operations.md lists them.
 */
import { Gauge, Registry } from "prom-client";
import type { RaftMetrics } from "../env/metrics.js";
import type { NodeState, NodeStatus } from "../node/node-status.js";
import type { HttpHandler } from "../rpc/http-front.js";
import type { NodeAdmin } from "../node/ports.js";
import { PrometheusRaftMetrics } from "./metrics-events.js";

/** A server's metrics: the sink its nodes and connections report to, and the registry behind it. */
export interface ServerMetrics {
  readonly sink: RaftMetrics;
  /** The server's registry: add your own metrics to it and `/metrics` serves them too. */
  readonly registry: Registry;
}

/** Every braft node state, so each node exports all of them (1 for its state, 0 for the rest). */
const NODE_STATES: readonly NodeState[] = [
  "LEADER",
  "TRANSFERRING",
  "CANDIDATE",
  "FOLLOWER",
  "ERROR",
  "UNINITIALIZED",
  "SHUTTING",
  "SHUTDOWN",
];

type NodeLabel = "group" | "peer";

/** A gauge per node, read from its status when scraped. */
const NODE_GAUGES: readonly { name: string; help: string; value: (s: NodeStatus) => number }[] = [
  { name: "tsraft_term", help: "Current term", value: (s) => s.term },
  { name: "tsraft_commit_index", help: "Last committed log index", value: (s) => s.committedIndex },
  {
    name: "tsraft_applied_index",
    help: "Last index applied to the state machine",
    value: (s) => s.appliedIndex,
  },
  {
    name: "tsraft_disk_index",
    help: "Last log index durable on this node's disk",
    value: (s) => s.diskIndex,
  },
  { name: "tsraft_last_log_index", help: "Last log index (durable or not)", value: (s) => s.lastIndex },
  { name: "tsraft_first_log_index", help: "First log index still in the log", value: (s) => s.firstIndex },
  {
    name: "tsraft_snapshot_index",
    help: "Last index included in the newest snapshot",
    value: (s) => s.lastSnapshotIndex,
  },
  {
    name: "tsraft_pending_applies",
    help: "Applies waiting for commit on this leader",
    value: (s) => s.pendingApplies,
  },
];

/**
 * Creates a server's registry and metrics; the gauges read `nodes()` (the server's nodes, ordered
 * by group then peer) when scraped. Called once, from the RaftServer constructor, which serves
 * the registry at `/metrics` with {@link metricsHandler}.
 */
export function createServerMetrics(nodes: () => NodeAdmin[]): ServerMetrics {
  const registry = new Registry();
  const statuses = scrapeCache(() => nodes().map((node) => node.getStatus()));
  registerNodeGauges(registry, statuses);
  const sink = new PrometheusRaftMetrics(registry);
  return { sink, registry };
}

/** Answers with the registry in the Prometheus text format (version 0.0.4). */
export function metricsHandler(registry: Registry): HttpHandler {
  return async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("use GET\n");
      return;
    }
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType });
    res.end(req.method === "HEAD" ? undefined : body);
  };
}

/**
 * Every node's status, computed once per scrape: the registry runs all collect() calls in one
 * synchronous pass, so the result is kept until the next microtask.
 */
function scrapeCache(read: () => NodeStatus[]): () => NodeStatus[] {
  let cached: NodeStatus[] | undefined;
  return () => {
    if (cached === undefined) {
      cached = read();
      queueMicrotask(() => (cached = undefined));
    }
    return cached;
  };
}

function registerNodeGauges(registry: Registry, statuses: () => NodeStatus[]): void {
  const registers = [registry];
  for (const { name, help, value } of NODE_GAUGES) {
    new Gauge<NodeLabel>({
      name,
      help,
      labelNames: ["group", "peer"],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.set({ group: s.groupId, peer: s.peerId }, value(s));
      },
    });
  }
  new Gauge<NodeLabel | "role">({
    name: "tsraft_role",
    help: "1 for the node's braft state (role label, lower case), 0 for the others",
    labelNames: ["group", "peer", "role"],
    registers,
    collect() {
      this.reset();
      for (const s of statuses()) {
        for (const state of NODE_STATES) {
          this.set(
            { group: s.groupId, peer: s.peerId, role: state.toLowerCase() },
            s.state === state ? 1 : 0,
          );
        }
      }
    },
  });
  new Gauge<NodeLabel | "follower">({
    name: "tsraft_replication_lag_entries",
    help: "On a leader, per follower: the leader's last log index minus the follower's match index",
    labelNames: ["group", "peer", "follower"],
    registers,
    collect() {
      this.reset();
      for (const s of statuses()) {
        for (const r of s.replicators) {
          this.set(
            { group: s.groupId, peer: s.peerId, follower: r.peerId },
            Math.max(0, s.lastIndex - r.matchIndex),
          );
        }
      }
    },
  });
}
