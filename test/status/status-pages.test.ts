/**
 * The status pages of RaftServer, in process: /raft_stat in braft's text layout and as JSON,
 * one group, an unknown group; /flags listed, changed and refused; the dashboard served.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { RaftNode, flags, defaultFlags, type Iterator, type StateMachine } from "../../src/index.js";
import type { RaftServer } from "../../src/server.js";
import type { RaftStatJson } from "../../src/status/index.js";
import type { FlagJson } from "../../src/status/index.js";
import { startServer, stopAll, waitFor } from "../rpc/helpers.js";
import { flagsHandler } from "../../src/status/flags-page.js";
import type { IncomingMessage, ServerResponse } from "node:http";

class Counter implements StateMachine {
  value = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) this.value += entry.data[0] ?? 0;
  }
}

const run = `status-${process.pid}-${Date.now()}`;
/** A group name that needs escaping and percent-encoding. */
const ODD_GROUP = "<b>&odd group";
let servers: RaftServer[] = [];
let nodes: RaftNode[] = [];

/** A node of `group` on `server`; with `snapshots`, memory snapshot storage and the hourly snapshot timer. */
async function startNode(
  server: RaftServer,
  group: string,
  peers: readonly string[],
  snapshots = false,
): Promise<RaftNode> {
  const peer = `${server.address}:0`;
  const node = new RaftNode(group, peer);
  await node.init({
    fsm: new Counter(),
    server,
    initialConf: peers.join(","),
    electionTimeoutMs: 1000,
    logUri: `memory://${run}/${group}/${peer}/log`,
    raftMetaUri: `memory://${run}/${group}/${peer}/meta`,
    ...(snapshots
      ? { snapshotUri: `memory://${run}/${group}/${peer}/snapshot`, snapshotIntervalS: 3600 }
      : {}),
  });
  return node;
}

async function get(server: RaftServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://${server.address}${path}`, { headers });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    cors: res.headers.get("access-control-allow-origin"),
    body: await res.text(),
  };
}

/** A POST from this process (loopback), as `curl -X POST` sends it. */
async function post(server: RaftServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`http://${server.address}${path}`, { method: "POST", headers });
  return { status: res.status, body: await res.text() };
}

before(async () => {
  // The pages show a busy group's timers (election, step-down); an idle group with quiescence on
  // goes quiet within a few heartbeats and stops them, which the timer lines would then race.
  const busy = { quiescence: false };
  servers = await Promise.all([startServer(busy), startServer(busy), startServer(busy)]);
  const peers = servers.map((s) => `${s.address}:0`);
  nodes = await Promise.all(servers.map((s) => startNode(s, "alpha", peers)));
  nodes.push(await startNode(servers[0]!, ODD_GROUP, [peers[0]!], true));
  await waitFor(() => nodes.slice(0, 3).some((n) => n.isLeader()), "a leader of alpha", 10_000);
  const leader = nodes.slice(0, 3).find((n) => n.isLeader())!;
  await leader.apply(Uint8Array.of(1));
  await waitFor(() => nodes[3]!.isLeader(), "the single-node group leads", 10_000);
});

after(async () => {
  await Promise.all(nodes.map((n) => n.shutdown()));
  await stopAll();
});

type Page = Awaited<ReturnType<typeof get>> & { server: RaftServer };

/**
 * The first page of `path` among the three servers whose body says `state: <state>`, retried
 * until one does: an election may move the leader on a busy machine at any time.
 */
/** The page of a node in `state` (whose body also matches `ready`, e.g. once heartbeats went out). */
async function pageOfNodeIn(state: "LEADER" | "FOLLOWER", path: string, ready = /(?:)/): Promise<Page> {
  let found: Page | undefined;
  const deadline = Date.now() + 10_000;
  while (found === undefined) {
    for (const server of servers) {
      const page = await get(server, path);
      const inState = page.body.includes(`state: ${state}\r\n`) || page.body.includes(`"state":"${state}"`);
      if (inState && ready.test(page.body)) {
        found = { ...page, server };
        break;
      }
    }
    if (found === undefined && Date.now() > deadline) throw new Error(`no ${state} answered ${path}`);
  }
  return found;
}

test("RaftStatText: every node of the server in braft's layout, groups in brackets", async () => {
  const page = await get(servers[0]!, "/raft_stat");
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/plain/);
  assert.ok(page.body.includes(`[${ODD_GROUP}]\r\n`), page.body);
  assert.ok(page.body.includes("[alpha]\r\n"), page.body);
  for (const field of [
    "peer_id: ",
    "state: ",
    "readonly: 0",
    "term: ",
    "conf_index: ",
    "peers: ",
    "election_timer: timeout(1000ms)",
    "vote_timer: timeout(1000ms) STOPPED",
    "stepdown_timer: timeout(1000ms)",
    "snapshot_timer: ",
    "storage: [1, ",
    "disk_index: ",
    "known_applied_index: ",
    "last_log_id: (index=",
    "state_machine: ",
    "last_committed_index: ",
    "last_snapshot_index: 0",
    "last_snapshot_term: 0",
    "snapshot_status: IDLE",
  ]) {
    assert.ok(page.body.includes(field), `missing "${field}" in\n${page.body}`);
  }
});

test("RaftStatLeader: a leader lists each replicator with next index, state, match index, lag and send times", async () => {
  // A new leader's first heartbeat follows its first append by a heartbeat interval.
  const page = await pageOfNodeIn("LEADER", "/raft_stat/alpha", /^(?![\s\S]*last_heartbeat_send=never)/);
  assert.equal(page.status, 200);
  assert.match(page.body, /state: LEADER\r\n/);
  assert.match(page.body, /changing_conf: NO {4}stage: STAGE_NONE\r\n/);
  assert.match(page.body, /stepdown_timer: timeout\(1000ms\) SCHEDULING\(in \d+ms\)/);
  assert.match(page.body, /election_timer: timeout\(1000ms\) STOPPED/);
  const replicators = page.body.split("\r\n").filter((line) => line.startsWith("replicator_"));
  assert.equal(replicators.length, 2, page.body);
  for (const line of replicators) {
    assert.match(
      line,
      /^replicator_\d@127\.0\.0\.1:\d+:0: next_index=\d+ {2}flying_append_entries_size=\d+ (replicate|probe|snapshot) match_index=\d+ lag=\d+ last_rpc_send=\d+ms_ago last_heartbeat_send=\d+ms_ago last_response=\d+ms_ago/,
    );
  }
});

test("RaftStatFollower: a follower names its leader and how long ago it heard from it", async () => {
  const page = await pageOfNodeIn("FOLLOWER", "/raft_stat/alpha");
  assert.match(page.body, /state: FOLLOWER\r\n/);
  assert.match(page.body, /leader: 127\.0\.0\.1:\d+:0\r\nlast_msg_to_now: \d+\r\n/);
  assert.match(page.body, /election_timer: timeout\(1000ms\) SCHEDULING\(in \d+ms\)/);
  assert.doesNotMatch(page.body, /replicator_/);
});

test("RaftStatGroup: /raft_stat/<group> shows only that group; names are percent-decoded", async () => {
  const page = await get(servers[0]!, `/raft_stat/${encodeURIComponent(ODD_GROUP)}`);
  assert.equal(page.status, 200);
  assert.ok(page.body.startsWith(`[${ODD_GROUP}]\r\n`), page.body);
  assert.ok(!page.body.includes("[alpha]"));
  // The only voter leads at once; with snapshot storage its snapshot timer runs.
  assert.match(page.body, /\r\nstate: LEADER\r\n/);
  assert.match(page.body, /\r\nsnapshot_timer: timeout\(3600000ms\) SCHEDULING\(in \d+ms\)\r\n/);
});

test("RaftStatHtml: browsers get HTML, group names escaped, peers linked to their raft_stat", async () => {
  const page = await get(servers[0]!, "/raft_stat", { accept: "text/html" });
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.ok(page.body.includes("<h1>&lt;b&gt;&amp;odd group</h1>"), page.body);
  assert.ok(!page.body.includes("<b>&odd"));
  for (const server of servers) {
    const link = `<a href="http://${server.address}/raft_stat/alpha">${server.address}:0</a>`;
    assert.ok(page.body.includes(link), `missing ${link}`);
  }
  assert.ok(page.body.includes(`/raft_stat/${encodeURIComponent(ODD_GROUP)}"`));
});

test("RaftStatUnknownGroup: 404 with one clear line", async () => {
  const page = await get(servers[0]!, "/raft_stat/nope");
  assert.equal(page.status, 404);
  assert.equal(page.body, "no group nope on this server\n");
});

test("RaftStatJson: the documented shape, with CORS for the dashboard", async () => {
  const page = await pageOfNodeIn("LEADER", "/raft_stat/alpha?format=json");
  assert.equal(page.status, 200);
  assert.match(page.type, /^application\/json/);
  assert.equal(page.cors, "*");
  const json = JSON.parse(page.body) as RaftStatJson;
  assert.equal(json.version, 1);
  assert.equal(json.server, page.server.address);
  assert.equal(typeof json.time, "number");
  assert.equal(json.nodes.length, 1);
  const node = json.nodes[0]!;
  assert.equal(node.groupId, "alpha");
  assert.equal(node.state, "LEADER");
  assert.equal(node.peers.length, 3);
  assert.ok(node.committedIndex >= 2 && node.appliedIndex <= node.committedIndex);
  assert.equal(node.timers.stepdown.running, true);
  assert.equal(node.timers.election.running, false);
  // The documented shape (docs/operations.md): a change here must update the docs and maybe `version`.
  assert.deepEqual(Object.keys(node).sort(), [
    "appliedIndex",
    "changingConf",
    "committedIndex",
    "confIndex",
    "confStage",
    "diskIndex",
    "electionTimeoutMs",
    "firstIndex",
    "groupId",
    "heartbeatIntervalMs",
    "lastIndex",
    "lastLogTerm",
    "lastSnapshotIndex",
    "lastSnapshotTerm",
    "leaderId",
    "learners",
    "newPeers",
    "oldPeers",
    "peerId",
    "peers",
    "pendingApplies",
    "pendingIndex",
    "quiet",
    "readonly",
    "replicators",
    "snapshotStatus",
    "state",
    "stateMachine",
    "term",
    "timers",
    "votedFor",
  ]);
  assert.deepEqual(Object.keys(node.replicators[0]!).sort(), [
    "appendEntriesCount",
    "consecutiveFailures",
    "heartbeatCount",
    "inflightAppends",
    "inflightRpcs",
    "installSnapshotCount",
    "lag",
    "lastHeartbeatSendAgeMs",
    "lastResponseAgeMs",
    "lastRpcSendAgeMs",
    "matchIndex",
    "nextIndex",
    "peerId",
    "state",
  ]);
  assert.equal(node.replicators.length, 2);
  for (const r of node.replicators) {
    assert.equal(typeof r.lag, "number");
    assert.equal(typeof r.lastRpcSendAgeMs, "number");
    assert.ok(r.heartbeatCount + r.appendEntriesCount > 0);
  }
  const all = JSON.parse((await get(servers[0]!, "/raft_stat?format=json")).body) as RaftStatJson;
  assert.deepEqual(
    all.nodes.map((n) => n.groupId),
    [ODD_GROUP, "alpha"].sort(),
  );
});

test("FlagsList: every flag with value, default, description and which nodes a change reaches, as text, HTML and JSON", async () => {
  const text = await get(servers[0]!, "/flags");
  assert.equal(text.status, 200);
  assert.match(
    text.body,
    /^raft_sync \| true \| default: true \| fsync every log append \(see raft_sync_policy\) \| fixed while running: /m,
  );
  assert.match(
    text.body,
    /^raft_max_entries_size \| 1024 \| default: 1024 \| .* \| applies to nodes started after a change: /m,
  );
  assert.match(
    text.body,
    /^raft_apply_batch \| 32 \| default: 32 \| .* \| applies to nodes started after a change: /m,
  );
  assert.match(text.body, /nodes already running keep theirs \(no flag changes a running node\)\.\n$/);
  const html = await get(servers[0]!, "/flags", { accept: "text/html" });
  assert.match(html.type, /^text\/html/);
  assert.ok(html.body.includes("<td>raft_election_heartbeat_factor</td>"));
  const json = JSON.parse((await get(servers[0]!, "/flags?format=json")).body) as { flags: FlagJson[] };
  assert.deepEqual(
    json.flags.map((f) => f.name),
    Object.keys(defaultFlags),
  );
  const one = JSON.parse((await get(servers[0]!, "/flags/raft_sync?format=json")).body) as {
    flags: FlagJson[];
  };
  assert.deepEqual(one.flags, [
    {
      name: "raft_sync",
      value: true,
      default: true,
      description: "fsync every log append (see raft_sync_policy)",
      live: false,
      appliesTo: "fixed",
      note: one.flags[0]!.note,
      allowed: "true or false",
    },
  ]);
  assert.equal((await get(servers[0]!, "/flags/raft_max_*?format=json")).body.includes("raft_sync"), false);
});

test("FlagsSetValue: a live flag changes the process-wide value; bad input is 400, a fixed flag 403", async () => {
  try {
    const set = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=77");
    assert.equal(set.status, 200, set.body);
    assert.equal(flags.raft_max_entries_size, 77);
    assert.match(
      (await get(servers[1]!, "/flags/raft_max_entries_size")).body,
      /\| 77 \(changed\) \| default: 1024/,
    );
    const bool = await post(servers[0]!, "/flags/raft_step_down_when_vote_timedout?setvalue=false");
    assert.equal(bool.status, 200);
    assert.equal(flags.raft_step_down_when_vote_timedout, false);

    const bad = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=lots");
    assert.equal(bad.status, 400);
    assert.equal(
      bad.body,
      'flag raft_max_entries_size is "lots"; allowed: an integer from 1 to 2147483647\n',
    );
    const zero = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=0");
    assert.equal(zero.status, 400);
    assert.match(zero.body, /^flag raft_max_entries_size is 0; allowed: an integer from 1 to 2147483647\n$/);
    const notBool = await post(servers[0]!, "/flags/raft_step_down_when_vote_timedout?setvalue=maybe");
    assert.equal(notBool.status, 400);
    assert.equal(flags.raft_max_entries_size, 77);

    const fixed = await post(servers[0]!, "/flags/raft_sync?setvalue=false");
    assert.equal(fixed.status, 403);
    assert.match(fixed.body, /^raft_sync cannot be changed at run time: /);
    assert.equal(flags.raft_sync, true);
    assert.equal((await post(servers[0]!, "/flags/no_such_flag?setvalue=1")).status, 404);
  } finally {
    Object.assign(flags, defaultFlags);
  }
});

test("FlagsBounds: /flags refuses what init refuses, naming the flag, the value and the range", async () => {
  try {
    // braft: "raft_election_heartbeat_factor flag must be greater than 1".
    const factor = await post(servers[0]!, "/flags/raft_election_heartbeat_factor?setvalue=1");
    assert.equal(factor.status, 400, factor.body);
    assert.equal(
      factor.body,
      "flag raft_election_heartbeat_factor is 1; allowed: an integer from 2 to 2147483647\n",
    );
    assert.equal(flags.raft_election_heartbeat_factor, 10, "unchanged");
    const inflight = await post(servers[0]!, "/flags/raft_max_parallel_append_entries_rpc_num?setvalue=5000");
    assert.equal(inflight.status, 400, inflight.body);
    assert.equal(
      inflight.body,
      "flag raft_max_parallel_append_entries_rpc_num is 5000; allowed: an integer from 1 to 1024\n",
    );
    const negative = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=-3");
    assert.equal(negative.status, 400);
    assert.match(negative.body, /^flag raft_max_entries_size is -3; allowed: an integer from 1 /);
    const top = await post(servers[0]!, "/flags/raft_max_parallel_append_entries_rpc_num?setvalue=1024");
    assert.equal(top.status, 200, top.body);
    assert.equal(flags.raft_max_parallel_append_entries_rpc_num, 1024);
    const listed = await get(servers[0]!, "/flags/raft_max_parallel_append_entries_rpc_num");
    assert.match(listed.body, /\| allowed: an integer from 1 to 1024\n/);
  } finally {
    Object.assign(flags, defaultFlags);
  }
});

test("FlagsChangeByPost: a GET with setvalue changes nothing (405, naming the POST); a cross-origin POST is refused", async () => {
  try {
    const viaGet = await get(servers[0]!, "/flags/raft_max_entries_size?setvalue=77");
    assert.equal(viaGet.status, 405);
    assert.match(
      viaGet.body,
      /^a flag changes only by POST: curl -X POST 'http:\/\/127\.0\.0\.1:\d+\/flags\/raft_max_entries_size\?setvalue=77'\n$/,
    );
    assert.equal(flags.raft_max_entries_size, 1024);
    const forged = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=77", {
      origin: "http://evil.example",
    });
    assert.equal(forged.status, 403);
    assert.match(forged.body, /another origin \(http:\/\/evil\.example\)/);
    assert.equal(flags.raft_max_entries_size, 1024);
    const sameOrigin = await post(servers[0]!, "/flags/raft_max_entries_size?setvalue=78", {
      origin: `http://${servers[0]!.address}`,
    });
    assert.equal(sameOrigin.status, 200, sameOrigin.body);
    assert.equal(flags.raft_max_entries_size, 78);
    assert.equal((await post(servers[0]!, "/flags/raft_max_entries_size")).status, 400);
    assert.equal((await fetch(`http://${servers[0]!.address}/flags`, { method: "PUT" })).status, 405);
  } finally {
    Object.assign(flags, defaultFlags);
  }
});

/** Runs the /flags handler on a request that seems to come from `remoteAddress`. */
async function callFlags(handler: ReturnType<typeof flagsHandler>, url: string, remoteAddress: string) {
  const req = { method: "POST", url, headers: { host: "10.0.0.1:8100" }, socket: { remoteAddress } };
  let status = 0;
  let body = "";
  const res = {
    writeHead(code: number) {
      status = code;
      return this;
    },
    end(text: string) {
      body = text;
      return this;
    },
  };
  handler(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  return { status, body };
}

test("FlagsChangeAccess: changes from loopback only by default; any peer or none by option", async () => {
  const target = { ...defaultFlags };
  const byDefault = flagsHandler({ target });
  const remote = await callFlags(byDefault, "/flags/raft_max_entries_size?setvalue=9", "10.0.0.2");
  assert.equal(remote.status, 403);
  assert.equal(
    remote.body,
    "flag changes are accepted from loopback only (RaftServerOptions.flagChanges), not from 10.0.0.2\n",
  );
  assert.equal(target.raft_max_entries_size, 1024);
  for (const local of ["127.0.0.1", "::1", "::ffff:127.0.0.1"]) {
    assert.equal((await callFlags(byDefault, "/flags/raft_max_entries_size?setvalue=9", local)).status, 200);
  }
  assert.equal(target.raft_max_entries_size, 9);
  const open = flagsHandler({ target, changes: "any" });
  assert.equal((await callFlags(open, "/flags/raft_max_entries_size?setvalue=10", "10.0.0.2")).status, 200);
  assert.equal(target.raft_max_entries_size, 10);
  const closed = flagsHandler({ target, changes: "none" });
  const refused = await callFlags(closed, "/flags/raft_max_entries_size?setvalue=11", "127.0.0.1");
  assert.equal(refused.status, 403);
  assert.match(refused.body, /^flag changes are disabled on this server/);
  assert.equal(target.raft_max_entries_size, 10);
});

test("Dashboard: / serves the page, unknown paths are 404", async () => {
  const page = await get(servers[0]!, "/");
  assert.equal(page.status, 200);
  assert.match(page.type, /^text\/html/);
  assert.ok(page.body.includes("<title>tsraft dashboard</title>"));
  assert.equal((await get(servers[0]!, "/nothing/here")).status, 404);
  assert.equal((await get(servers[0]!, "/health")).body, "OK\n");
});
