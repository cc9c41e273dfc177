/**
 * /metrics on a live three-node cluster over TCP with local:// storage: after applies, a snapshot
 * and a snapshot install, every server's exposition parses strictly and carries the values an
 * operator relies on.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { register as globalRegistry } from "prom-client";
import { RaftError, RaftNode, silentLogger } from "../../src/index.js";
import type { RaftServer } from "../../src/server.js";
import { SnapshotCounter, startServer, stopAll, voteRequest, waitFor } from "../rpc/helpers.js";
import { parseExposition, samples, total, type Family } from "./exposition.js";

after(stopAll);

const APPLIES = 30;

/** GET `path` on `server`; resolves with the status, content type and body. */
function scrape(
  server: RaftServer,
  path = "/metrics",
): Promise<{ status: number; type: string; body: string }> {
  const [host, port] = server.address.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    get({ host, port: Number(port), path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    }).on("error", reject);
  });
}

test("Metrics: /metrics of a live 3-node cluster parses strictly and reports the cluster", async () => {
  const root = mkdtempSync(join(tmpdir(), "tsraft-metrics-"));
  const servers = await Promise.all([0, 1, 2].map(() => startServer({ logger: silentLogger })));
  const peers = servers.map((s) => `${s.address}:0`);
  const start = async (i: number): Promise<{ node: RaftNode; fsm: SnapshotCounter }> => {
    const fsm = new SnapshotCounter();
    const node = new RaftNode("metrics", peers[i] as string);
    const dir = join(root, `n${i}`);
    await node.init({
      fsm,
      server: servers[i] as RaftServer,
      initialConf: peers.join(","),
      electionTimeoutMs: 1000,
      logUri: `local://${dir}/log`,
      raftMetaUri: `local://${dir}/meta`,
      snapshotUri: `local://${dir}/snapshot`,
      snapshotLogMarginEntries: 0,
    });
    return { node, fsm };
  };
  const members = await Promise.all(peers.map((_, i) => start(i)));
  const leaderNow = async (among = members): Promise<{ node: RaftNode; fsm: SnapshotCounter }> => {
    let found: { node: RaftNode; fsm: SnapshotCounter } | undefined;
    await waitFor(() => (found = among.find((m) => m.node.isLeader())) !== undefined, "a leader", 15_000);
    return found!;
  };
  // Retries through whoever leads: a loaded machine may move leadership mid-test. An apply that
  // failed may still commit, so the cluster's value ends at APPLIES or above.
  const applyOnes = async (count: number, among = members): Promise<void> => {
    for (let done = 0; done < count;) {
      try {
        await (await leaderNow(among)).node.apply(Uint8Array.of(1));
        done++;
      } catch (error) {
        if (!RaftError.is(error)) throw error;
      }
    }
  };
  try {
    const firstLeader = await leaderNow();
    const followerIndex = members.findIndex((m) => m !== firstLeader);
    const others = members.filter((_, i) => i !== followerIndex);
    await applyOnes(APPLIES / 3);
    // A follower loses its disk and rejoins after the others compacted: it installs a snapshot.
    await members[followerIndex]!.node.shutdown();
    rmSync(join(root, `n${followerIndex}`), { recursive: true, force: true });
    await applyOnes(APPLIES / 3, others);
    await Promise.all(others.map((m) => m.node.snapshot()));
    members[followerIndex] = await start(followerIndex);
    // More entries after the install, so the rejoined follower appends (and fsyncs) too.
    await applyOnes(APPLIES / 3);
    await waitFor(
      () => {
        const leader = members.find((m) => m.node.isLeader());
        if (leader === undefined) return false;
        const { lastIndex } = leader.node.getStatus();
        return members.every((m) => {
          const status = m.node.getStatus();
          return status.appliedIndex === lastIndex && status.committedIndex === lastIndex;
        });
      },
      "every node to apply everything",
      20_000,
    );
    const leader = await leaderNow();
    assert.ok(leader.fsm.value >= APPLIES);

    const scraped = await Promise.all(servers.map((s) => scrape(s)));
    const parsed: Map<string, Family>[] = [];
    for (const { status, type, body } of scraped) {
      assert.equal(status, 200);
      assert.match(type, /^text\/plain; version=0\.0\.4/);
      parsed.push(parseExposition(body));
    }
    const group = { group: "metrics" };
    const sum = (name: string, labels: Record<string, string> = {}): number =>
      parsed.reduce((acc, families) => acc + total(families, name, { ...group, ...labels }), 0);

    for (const [i, families] of parsed.entries()) {
      const peer = { group: "metrics", peer: peers[i] as string };
      const term = samples(families, "tsraft_term", peer);
      assert.equal(term.length, 1, `one term series on server ${i}`);
      assert.ok(term[0]!.value >= 1, "term >= 1");
      assert.ok(total(families, "tsraft_commit_index", peer) >= APPLIES, "commit index >= applies");
      assert.ok(total(families, "tsraft_applied_index", peer) >= APPLIES, "applied index >= applies");
      assert.ok(total(families, "tsraft_disk_index", peer) >= APPLIES);
      assert.equal(samples(families, "tsraft_role", peer).length, 8, "every state exported");
      assert.equal(total(families, "tsraft_role", peer), 1, "exactly one state per node");
      assert.ok(total(families, "tsraft_log_fsync_seconds_count", peer) > 0, "fsyncs observed");
      assert.ok(total(families, "tsraft_log_append_seconds_count", peer) > 0, "appends observed");
      for (const name of ["tsraft_leader_changes_total", "tsraft_log_fsync_seconds", "tsraft_role"]) {
        const family = families.get(name);
        assert.ok(family !== undefined && family.help.length > 0, `${name} has HELP and TYPE`);
      }
    }
    assert.equal(sum("tsraft_role", { role: "leader" }), 1, "exactly one leader in the group");
    // Byte counters have no group label: summed over the three servers.
    const bytes = (name: string): number => parsed.reduce((acc, families) => acc + total(families, name), 0);
    assert.ok(bytes("tsraft_rpc_server_received_bytes_total") > 0, "bytes in (server)");
    assert.ok(bytes("tsraft_rpc_server_sent_bytes_total") > 0, "bytes out (server)");
    assert.ok(bytes("tsraft_rpc_client_received_bytes_total") > 0, "bytes in (channels)");
    assert.ok(bytes("tsraft_rpc_client_sent_bytes_total") > 0, "bytes out (channels)");
    assert.ok(sum("tsraft_leader_changes_total") >= 3, "every node saw a leader");
    assert.ok(sum("tsraft_elections_total", { kind: "vote" }) >= 1, "an election was counted");
    assert.ok(sum("tsraft_elections_total", { kind: "pre_vote" }) >= 1, "a pre-vote was counted");
    assert.ok(sum("tsraft_snapshots_total", { op: "save", result: "ok" }) >= 1, "the snapshot save");
    assert.ok(sum("tsraft_snapshot_seconds_count", { op: "save" }) >= 1);
    assert.ok(sum("tsraft_snapshots_total", { op: "install", result: "ok" }) >= 1, "the install");
    assert.ok(sum("tsraft_snapshots_total", { op: "load", result: "ok" }) >= 1, "the load");
    const leaderPeer = leader.node.peerId.toString();
    const lag = parsed.flatMap((f) => samples(f, "tsraft_replication_lag_entries", { peer: leaderPeer }));
    assert.equal(lag.length, 2, "the leader reports a lag per follower");
    for (const s of lag) assert.ok(s.value >= 0);
    assert.equal(sum("tsraft_pending_applies"), 0);

    // A call for a group nobody hosts fails on both sides, and both sides count it by method.
    await assert.rejects(servers[0]!.client.requestVote(peers[1]!, voteRequest("nobody", peers[1]!), 1000));
    const caller = parseExposition((await scrape(servers[0]!)).body);
    const callee = parseExposition((await scrape(servers[1]!)).body);
    const method = { service: "braft.RaftService", method: "request_vote" };
    assert.ok(total(callee, "tsraft_rpc_server_errors_total", method) >= 1, "server-side error counted");
    assert.ok(total(caller, "tsraft_rpc_client_errors_total", method) >= 1, "client-side error counted");
  } finally {
    await Promise.all(members.map((m) => m.node.shutdown()));
    rmSync(root, { recursive: true, force: true });
  }
});

test("Metrics: each RaftServer has its own registry; the global one stays empty", async () => {
  const [a, b] = await Promise.all([startServer(), startServer()]);
  assert.notEqual(a!.metricsRegistry, b!.metricsRegistry);
  assert.equal((await globalRegistry.metrics()).includes("tsraft_"), false);
  const { body } = await scrape(a!);
  const families = parseExposition(body);
  assert.ok(families.has("tsraft_term"), "families are exported before any node exists");
  assert.equal(samples(families, "tsraft_term").length, 0);
});

test("Metrics: a shut-down node's series leave the registry", async () => {
  const server = await startServer({ logger: silentLogger });
  const peer = `${server.address}:0`;
  const node = new RaftNode("gone", peer);
  await node.init({
    fsm: new SnapshotCounter(),
    server,
    initialConf: peer,
    logUri: `memory://metrics-gone-${process.pid}/log`,
    raftMetaUri: `memory://metrics-gone-${process.pid}/meta`,
  });
  await waitFor(() => node.isLeader(), "the single node to lead");
  let families = parseExposition((await scrape(server)).body);
  assert.equal(total(families, "tsraft_leader_changes_total", { group: "gone" }), 1);
  await node.shutdown();
  families = parseExposition((await scrape(server)).body);
  assert.equal(samples(families, "tsraft_leader_changes_total", { group: "gone" }).length, 0);
  assert.equal(samples(families, "tsraft_term", { group: "gone" }).length, 0);
});

test("Metrics: the exposition checker refuses malformed text", () => {
  const ok = '# HELP x_total help\n# TYPE x_total counter\nx_total{a="b"} 1\n';
  assert.equal(parseExposition(ok).get("x_total")?.samples[0]?.value, 1);
  const bad = [
    "x_total 1\n", // no HELP/TYPE
    "# HELP x help\n# TYPE x gauge\nx{a=b} 1\n", // unquoted label value
    "# HELP x help\n# TYPE x gauge\nx 1", // no final newline
    "# HELP x help\n# TYPE x gauge\nx one\n", // not a number
    "# HELP x help\n# TYPE x gauge\nx 1\nx 2\n", // duplicate series
    "# HELP h help\n# TYPE h histogram\n" + 'h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', // not monotone
    "# HELP h help\n# TYPE h histogram\n" + 'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\n', // no _count
  ];
  for (const text of bad) assert.throws(() => parseExposition(text), Error, JSON.stringify(text));
});
