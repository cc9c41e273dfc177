/**
 * The metrics counted as they happen (elections, leader changes, append and fsync latency,
 * snapshots, RPC errors and bytes), as prom-client metrics in one server's Registry. Each node's
 * label children are resolved once, when the node asks for its NodeMetrics; byte counts are plain
 * numbers added per socket read or write and handed to prom-client only when scraped.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import type { NodeMetrics, RaftMetrics, RpcMetrics, SnapshotOp, TrafficCounter } from "../env/metrics.js";
import { WritePathHistogram } from "./write-path-histogram.js";

/**
 * Latency buckets of one log append or fsync: 100 µs (an SSD with a write cache) up to 5 s (a disk
 * in trouble); the default prom-client buckets start at 5 ms and would lump every SSD together.
 */
const IO_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** Snapshot durations: 1 ms (a small state machine) to 10 minutes (a large install). */
const SNAPSHOT_SECONDS_BUCKETS = [0.001, 0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600];

const SNAPSHOT_OPS: readonly SnapshotOp[] = ["save", "load", "install"];
const NODE_LABELS = ["group", "peer"] as const;

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** The prom-client side of a server's RaftMetrics. */
export class PrometheusRaftMetrics implements RaftMetrics {
  readonly rpc: RpcMetrics;
  private readonly leaderChanges: Counter<"group" | "peer">;
  private readonly elections: Counter<"group" | "peer" | "kind">;
  /** Observed once per write (append) and per fsync, on the write path itself: see WritePathHistogram. */
  private readonly appendSeconds: WritePathHistogram;
  private readonly fsyncSeconds: WritePathHistogram;
  private readonly snapshotSeconds: Histogram<"group" | "peer" | "op">;
  private readonly snapshots: Counter<"group" | "peer" | "op" | "result">;
  /** Nodes holding each (group, peer)'s series: a node re-created before the old one closed keeps them. */
  private readonly holders = new Map<string, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.leaderChanges = new Counter({
      name: "tsraft_leader_changes_total",
      help: "Times this node learned of a new leader (itself included)",
      labelNames: NODE_LABELS,
      registers,
    });
    this.elections = new Counter({
      name: "tsraft_elections_total",
      help: "Election rounds this node started, by kind (pre_vote, vote)",
      labelNames: [...NODE_LABELS, "kind"],
      registers,
    });
    this.appendSeconds = new WritePathHistogram(
      "tsraft_log_append_seconds",
      "Latency of one LogManager write batch that appends entries (fsync included)",
      IO_SECONDS_BUCKETS,
      registry,
    );
    this.fsyncSeconds = new WritePathHistogram(
      "tsraft_log_fsync_seconds",
      "Latency of one fsync of the local:// log",
      IO_SECONDS_BUCKETS,
      registry,
    );
    this.snapshotSeconds = new Histogram({
      name: "tsraft_snapshot_seconds",
      help: "Duration of successful snapshot operations, by op (save, load, install)",
      labelNames: [...NODE_LABELS, "op"],
      buckets: SNAPSHOT_SECONDS_BUCKETS,
      registers,
    });
    this.snapshots = new Counter({
      name: "tsraft_snapshots_total",
      help: "Snapshot operations ended, by op (save, load, install) and result (ok, error)",
      labelNames: [...NODE_LABELS, "op", "result"],
      registers,
    });
    this.rpc = new PrometheusRpcMetrics(registry);
  }

  node(group: string, peer: string): NodeMetrics {
    const key = `${group}\u0000${peer}`;
    this.holders.set(key, (this.holders.get(key) ?? 0) + 1);
    const labels = { group, peer };
    const leaderChanges = this.leaderChanges.labels(labels);
    const preVotes = this.elections.labels({ ...labels, kind: "pre_vote" });
    const votes = this.elections.labels({ ...labels, kind: "vote" });
    const append = this.appendSeconds.child(labels);
    const fsync = this.fsyncSeconds.child(labels);
    // A node's snapshot series appear with its first snapshot operation: most groups of a
    // process hosting thousands are idle and never snapshot, and these nine series were a third
    // of an idle node's memory (docs/quiescence.md, "Cost").
    const snapshot = new Map<SnapshotOp, { seconds: Observe; ok: Inc; error: Inc }>();
    const snapshotChildren = (op: SnapshotOp): { seconds: Observe; ok: Inc; error: Inc } => {
      let children = snapshot.get(op);
      if (children === undefined) {
        children = {
          seconds: this.snapshotSeconds.labels({ ...labels, op }),
          ok: this.snapshots.labels({ ...labels, op, result: "ok" }),
          error: this.snapshots.labels({ ...labels, op, result: "error" }),
        };
        // Both results start at 0, so the other one's first event shows in increase().
        for (const counter of [children.ok, children.error]) counter.inc(0);
        snapshot.set(op, children);
      }
      return children;
    };
    // Counters start at 0, so rate() and increase() see their first event.
    for (const counter of [leaderChanges, preVotes, votes]) counter.inc(0);
    let closed = false;
    return {
      leaderChanged: () => leaderChanges.inc(),
      electionStarted: (preVote) => (preVote ? preVotes : votes).inc(),
      observeAppend: (seconds) => append.observe(seconds),
      observeFsync: (seconds) => fsync.observe(seconds),
      snapshotFinished: (op, seconds, ok) => {
        if (!SNAPSHOT_OPS.includes(op)) return;
        const children = snapshotChildren(op);
        if (ok) children.seconds.observe(seconds);
        (ok ? children.ok : children.error).inc();
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.release(key, labels);
      },
    };
  }

  /** Drops a node's series once no node holds them: a gone node must not be scraped forever. */
  private release(key: string, labels: { group: string; peer: string }): void {
    const holders = (this.holders.get(key) ?? 1) - 1;
    if (holders > 0) {
      this.holders.set(key, holders);
      return;
    }
    this.holders.delete(key);
    this.leaderChanges.remove(labels);
    this.appendSeconds.remove(labels);
    this.fsyncSeconds.remove(labels);
    for (const kind of ["pre_vote", "vote"]) this.elections.remove({ ...labels, kind });
    for (const op of SNAPSHOT_OPS) {
      this.snapshotSeconds.remove({ ...labels, op });
      for (const result of ["ok", "error"]) this.snapshots.remove({ ...labels, op, result });
    }
  }
}

/** RPC errors as prom-client counters; traffic as plain numbers read at scrape time. */
class PrometheusRpcMetrics implements RpcMetrics {
  readonly server: TrafficCounter = { bytesIn: 0, bytesOut: 0 };
  private readonly channels = new Map<string, TrafficCounter>();
  private readonly serverErrors: Counter<"service" | "method">;
  private readonly clientErrors: Counter<"service" | "method" | "code">;

  constructor(registry: Registry) {
    const registers = [registry];
    this.serverErrors = new Counter({
      name: "tsraft_rpc_server_errors_total",
      help: "Requests this server answered with an error, by service and method",
      labelNames: ["service", "method"],
      registers,
    });
    this.clientErrors = new Counter({
      name: "tsraft_rpc_client_errors_total",
      help: "Calls from this server's channels that failed, by service, method and error code",
      labelNames: ["service", "method", "code"],
      registers,
    });
    const server = this.server;
    const channels = this.channels;
    trafficCounter(
      registry,
      "tsraft_rpc_server_received_bytes_total",
      "Bytes read on accepted baidu_std connections",
      function () {
        this.reset();
        this.inc(server.bytesIn);
      },
    );
    trafficCounter(
      registry,
      "tsraft_rpc_server_sent_bytes_total",
      "Bytes written on accepted baidu_std connections",
      function () {
        this.reset();
        this.inc(server.bytesOut);
      },
    );
    trafficCounter(
      registry,
      "tsraft_rpc_client_received_bytes_total",
      "Bytes read on channels, by remote endpoint",
      function () {
        this.reset();
        for (const [endpoint, traffic] of channels) this.inc({ endpoint }, traffic.bytesIn);
      },
      ["endpoint"],
    );
    trafficCounter(
      registry,
      "tsraft_rpc_client_sent_bytes_total",
      "Bytes written on channels, by remote endpoint",
      function () {
        this.reset();
        for (const [endpoint, traffic] of channels) this.inc({ endpoint }, traffic.bytesOut);
      },
      ["endpoint"],
    );
  }

  channel(endpoint: string): TrafficCounter {
    let traffic = this.channels.get(endpoint);
    if (traffic === undefined) {
      traffic = { bytesIn: 0, bytesOut: 0 };
      this.channels.set(endpoint, traffic);
    }
    return traffic;
  }

  serverError(service: string, method: string): void {
    this.serverErrors.inc({ service, method });
  }

  clientError(service: string, method: string, code: string): void {
    this.clientErrors.inc({ service, method, code });
  }
}

/** A counter whose value is read from plain numbers when scraped. */
function trafficCounter(
  registry: Registry,
  name: string,
  help: string,
  collect: (this: Counter<string>) => void,
  labelNames: readonly string[] = [],
): void {
  new Counter({ name, help, labelNames, registers: [registry], collect });
}
