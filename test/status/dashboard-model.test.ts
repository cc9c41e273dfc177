/**
 * The dashboard's browser-side functions, run in Node: the history stays bounded, the apply
 * latency estimate, servers going down and up, the SVG the charts draw, and the shipped script
 * as a whole (run in a vm context with a fake DOM: a function missing from the lists would fail).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInNewContext } from "node:vm";
import type { NodeStatus } from "../../src/node/node-status.js";
import { leaderTimelineHtml, lineChartSvg } from "../../src/status/dashboard-charts.js";
import {
  DASHBOARD_LIMITS,
  applyLatencyOf,
  recordGroup,
  recordServers,
  type GroupHistory,
  type ServerHealth,
} from "../../src/status/dashboard-history.js";
import { DASHBOARD_HTML } from "../../src/status/dashboard-html.js";
import { buildView, type ServerPoll } from "../../src/status/dashboard-view.js";

const PEERS = ["127.0.0.1:8100:0", "127.0.0.1:8101:0", "127.0.0.1:8102:0"];

/** A node's status with the fields the dashboard reads; the rest as an idle follower. */
function status(peerId: string, fields: Partial<NodeStatus> = {}): NodeStatus {
  const timer = { timeoutMs: 1000, running: false };
  return {
    groupId: "g",
    peerId,
    state: "FOLLOWER",
    term: 1,
    leaderId: "",
    votedFor: "",
    peers: PEERS,
    oldPeers: [],
    learners: [],
    confIndex: 1,
    firstIndex: 1,
    lastIndex: 0,
    lastLogTerm: 1,
    diskIndex: 0,
    committedIndex: 0,
    appliedIndex: 0,
    readonly: false,
    pendingApplies: 0,
    electionTimeoutMs: 1000,
    lastSnapshotIndex: 0,
    lastSnapshotTerm: 0,
    snapshotStatus: "IDLE",
    replicators: [],
    pendingIndex: 0,
    heartbeatIntervalMs: 100,
    changingConf: false,
    confStage: "STAGE_NONE",
    newPeers: [],
    stateMachine: "Idle",
    quiet: false,
    timers: { election: timer, vote: timer, stepdown: timer, snapshot: timer },
    ...fields,
  };
}

function poll(endpoint: string, time: number, nodes: NodeStatus[] | undefined): ServerPoll {
  return nodes === undefined
    ? { endpoint, ok: false, error: "timeout", rttMs: 800, time: 0, nodes: [] }
    : { endpoint, ok: true, error: "", rttMs: 2, time, nodes };
}

/**
 * Round `k` of a steady cluster: entries appended at `rate` per second, applied `delayMs` later
 * everywhere; the leader is PEERS[0] in term 1 (2 from round 10 on, with PEERS[1] leading).
 */
function round(k: number, rate: number, delayMs: number, down: string[] = []): ServerPoll[] {
  const t = 1_000_000 + k * 1000;
  const last = Math.floor((k * rate * 1000) / 1000);
  const applied = Math.max(0, Math.floor(((k * 1000 - delayMs) * rate) / 1000));
  const leader = k < 10 ? PEERS[0] : PEERS[1];
  return PEERS.map((peer) => {
    const endpoint = peer.slice(0, -2);
    const leading = peer === leader;
    const node = status(peer, {
      state: leading ? "LEADER" : "FOLLOWER",
      term: k < 10 ? 1 : 2,
      lastIndex: last,
      committedIndex: applied,
      appliedIndex: applied,
      replicators: leading ? PEERS.filter((p) => p !== peer).map((p) => replicator(p, last - 3)) : [],
    });
    return poll(endpoint, t, down.includes(endpoint) ? undefined : [node]);
  });
}

function replicator(peerId: string, matchIndex: number): NodeStatus["replicators"][number] {
  return {
    peerId,
    nextIndex: matchIndex + 1,
    matchIndex,
    state: "replicate",
    inflightAppends: 0,
    inflightRpcs: 0,
    consecutiveFailures: 0,
    lag: 3,
    heartbeatCount: 0,
    appendEntriesCount: 0,
    installSnapshotCount: 0,
  };
}

test("DashboardHistory: commits/s and the apply latency estimate on a steady load, a leader change as one event", () => {
  const history: GroupHistory = { samples: [], events: [] };
  for (let k = 1; k <= 20; k++) {
    const polls = round(k, 200, 50);
    const [view] = buildView(polls, ["g"]);
    assert.ok(view);
    recordGroup(history, view, 1_000_000 + k * 1000);
  }
  const newest = history.samples[history.samples.length - 1];
  assert.ok(newest);
  assert.equal(newest.commitsPerS, 200);
  for (const peer of PEERS) assert.equal(Math.round(newest.peers[peer]?.applyLatencyMs ?? -1), 50, peer);
  // The leader is never its own follower: no lag for it, 3 for the others.
  assert.equal(newest.peers[PEERS[1] as string]?.lag, undefined);
  assert.equal(newest.peers[PEERS[0] as string]?.lag, 3);
  assert.deepEqual(
    history.events.map((e) => [e.term, e.leader]),
    [
      [1, PEERS[0]],
      [2, PEERS[1]],
    ],
  );
});

test("DashboardHistory: samples, events and server marks stay within their caps over hours", () => {
  const history: GroupHistory = { samples: [], events: [] };
  const servers = new Map<string, ServerHealth>();
  for (let k = 1; k <= 3 * DASHBOARD_LIMITS.samplesMax; k++) {
    const t = 1_000_000 + k * 1000;
    // A leader change every round: the worst case for the event list.
    const leader = PEERS[k % 3] as string;
    const nodes = PEERS.map((p) => status(p, { state: p === leader ? "LEADER" : "FOLLOWER", term: k }));
    const polls = PEERS.map((p, i) => poll(p.slice(0, -2), t, [nodes[i] as NodeStatus]));
    const [view] = buildView(polls, ["g"]);
    recordGroup(history, view as NonNullable<typeof view>, t);
    recordServers(servers, polls, t);
  }
  assert.equal(history.samples.length, DASHBOARD_LIMITS.samplesMax);
  assert.equal(history.events.length, DASHBOARD_LIMITS.leaderEventsMax);
  for (const server of servers.values()) assert.equal(server.marks.length, DASHBOARD_LIMITS.samplesMax);
});

test("DashboardHistory: a server that stops answering is down since that round, up again when it answers, gone when no longer polled", () => {
  const servers = new Map<string, ServerHealth>();
  const endpoint = "127.0.0.1:8101";
  const at = (k: number) => 1_000_000 + k * 1000;
  recordServers(servers, round(1, 10, 0), at(1));
  recordServers(servers, round(2, 10, 0, [endpoint]), at(2));
  recordServers(servers, round(3, 10, 0, [endpoint]), at(3));
  assert.deepEqual(
    {
      up: servers.get(endpoint)?.up,
      changedAt: servers.get(endpoint)?.changedAt,
      lastOkAt: servers.get(endpoint)?.lastOkAt,
    },
    { up: false, changedAt: at(2), lastOkAt: at(1) },
  );
  recordServers(servers, round(4, 10, 0), at(4));
  assert.equal(servers.get(endpoint)?.up, true);
  assert.equal(servers.get(endpoint)?.changedAt, at(4));
  // A server no longer polled (removed from the configuration) leaves the page.
  recordServers(servers, round(5, 10, 0).slice(0, 2), at(5));
  assert.deepEqual([...servers.keys()], ["127.0.0.1:8100", "127.0.0.1:8101"]);
  // A down follower keeps the lag its leader reports for it.
  const history: GroupHistory = { samples: [], events: [] };
  const [view] = buildView(round(6, 10, 0, [endpoint]), ["g"]);
  recordGroup(history, view as NonNullable<typeof view>, at(6));
  assert.equal(history.samples[0]?.peers[`${endpoint}:0`]?.up, false);
  assert.equal(history.samples[0]?.peers[`${endpoint}:0`]?.lag, 3);
});

test("DashboardHistory: no latency estimate beyond the samples kept", () => {
  const samples = [
    {
      t: 0,
      commit: 0,
      commitsPerS: undefined,
      peers: { p: { up: true, time: 10, last: 100, applied: 90, lag: 0, applyLatencyMs: undefined } },
    },
  ];
  assert.equal(applyLatencyOf(samples, "p", { time: 1010, last: 200 }, 150), 500);
  assert.equal(applyLatencyOf(samples, "p", { time: 1010, last: 200 }, 50), undefined);
});

test("DashboardCharts: a line per series, gaps where values are missing, hostile labels escaped", () => {
  const svg = lineChartSvg({
    kind: "lag",
    title: "lag",
    t0: 0,
    t1: 10_000,
    series: [
      {
        label: "<b>x</b>",
        color: "#f00",
        points: [
          [1000, 1],
          [2000, 2],
          [3000, undefined],
          [4000, 4],
          [5000, 3],
          [6000, 9],
        ],
      },
    ],
  });
  assert.match(svg, /data-points="5"/);
  const d = /\sd="([^"]*)"/.exec(svg)?.[1] ?? "";
  assert.equal(d.split("M").length - 1, 2, d);
  assert.equal(d.split("L").length - 1, 3, d);
  assert.ok(!svg.includes("<b>"), svg);
  // The axis tops at a round number above the largest value.
  assert.match(svg, />10<\/text>/);
});

test("DashboardCharts: the leader timeline lists changes newest first", () => {
  const html = leaderTimelineHtml(
    [
      { t: 1000, term: 1, leader: PEERS[0] as string },
      { t: 5000, term: 2, leader: "" },
      { t: 6000, term: 3, leader: PEERS[1] as string },
    ],
    PEERS,
    0,
    10_000,
  );
  const terms = [...html.matchAll(/<li data-term="(\d+)" data-leader="([^"]*)"/g)].map(
    (m) => `${m[1]}:${m[2]}`,
  );
  assert.deepEqual(terms, [`3:${PEERS[1]}`, "2:", `1:${PEERS[0]}`]);
  assert.equal(html.match(/<rect /g)?.length, 3);
});

/** A page element of the fake DOM: what the client script sets, and the click listener it adds. */
interface FakeElement {
  textContent: string;
  innerHTML: string;
  hidden: boolean;
  dataset: object;
  click?: (event: { target: unknown }) => void;
  addEventListener(type: string, listener: (event: { target: unknown }) => void): void;
}

test("DashboardPage: the shipped script renders rounds with charts and server cards, and a group's charts toggle (fake DOM)", async () => {
  const script = /<script>([\s\S]*)<\/script>/.exec(DASHBOARD_HTML)?.[1] ?? "";
  const elements = new Map<string, FakeElement>();
  const element = (id: string): FakeElement => {
    const existing = elements.get(id);
    if (existing) return existing;
    const created: FakeElement = {
      textContent: "",
      innerHTML: "",
      hidden: true,
      dataset: {},
      addEventListener(_type, listener) {
        this.click = listener;
      },
    };
    elements.set(id, created);
    return created;
  };
  const timers: (() => void)[] = [];
  let k = 0;
  const fetch = async (url: string) => {
    const port = url.startsWith("/") ? "8100" : (/:(\d+)\//.exec(url)?.[1] ?? "");
    const answer = round(k, 100, 20).find((p) => p.endpoint.endsWith(port));
    return { ok: true, status: 200, json: async () => ({ time: answer?.time, nodes: answer?.nodes }) };
  };
  const context = {
    document: { getElementById: element, hidden: false, addEventListener() {} },
    location: { host: "127.0.0.1:8100", protocol: "http:" },
    fetch,
    AbortSignal,
    performance,
    Date,
    setTimeout: (f: () => void) => timers.push(f),
    clearTimeout: () => undefined,
  };
  runInNewContext(script, context);
  for (k = 1; k <= 5; k++) {
    // Let the round's fetches settle, then start the next one.
    while (timers.length === 0) await new Promise((resolve) => setImmediate(resolve));
    timers.shift()?.();
  }
  const groups = element("groups");
  assert.equal(element("error").textContent, "");
  for (const kind of ["commits", "latency", "lag", "timeline"])
    assert.match(groups.innerHTML, new RegExp(`data-chart="${kind}"`));
  assert.match(groups.innerHTML, /data-points="[2-9]"/);
  assert.equal(element("servers").innerHTML.match(/data-up="1"/g)?.length, 3);

  // "hide charts" drops the group's charts (and its history); "chart" brings them back, empty.
  const toggle = { dataset: { group: "g" } };
  const click = () =>
    groups.click?.({ target: { closest: (s: string) => (s === "button.chart-toggle" ? toggle : null) } });
  click();
  assert.doesNotMatch(groups.innerHTML, /data-chart=/);
  click();
  assert.match(groups.innerHTML, /data-chart="commits"/);
  assert.doesNotMatch(groups.innerHTML, /data-points="[1-9]"/);
});
