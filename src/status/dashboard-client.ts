/**
 * Dashboard, browser side: polls the servers, keeps the history, renders the page. Entry point
 * {@link dashboardMain}. The browser polls `/raft_stat?format=json` of the server that served the
 * page, learns the other servers from the configurations it lists and polls them directly (the
 * status pages allow any origin); while its own server is down it polls the servers it named last.
 */
import type { NodeStatus } from "../node/node-status.js";
import { groupChartsHtml, serverCardsHtml } from "./dashboard-charts.js";
import {
  DASHBOARD_LIMITS,
  recordGroup,
  recordServers,
  type GroupHistory,
  type ServerHealth,
} from "./dashboard-history.js";
import {
  buildView,
  endpointOf,
  esc,
  membersOf,
  type GroupView,
  type PeerRow,
  type ServerPoll,
} from "./dashboard-view.js";

/** The little of the DOM the page touches (the project compiles without lib.dom). */
interface DomElement {
  textContent: string | null;
  innerHTML: string;
  hidden: boolean;
  readonly dataset: Record<string, string | undefined>;
  closest(selector: string): DomElement | null;
  addEventListener(type: "click", listener: (event: { target: DomElement }) => void): void;
}
declare const document: {
  getElementById(id: string): DomElement;
  /** The tab is in the background or minimized. */
  readonly hidden: boolean;
  addEventListener(type: "visibilitychange", listener: () => void): void;
};
declare const location: { readonly host: string; readonly protocol: string };

/** Everything the page remembers between rounds. */
export interface DashboardState {
  /** `ip:port` of the server that served the page. */
  readonly self: string;
  /** The node whose raft_stat is shown below the groups. */
  selected: { readonly group: string; readonly peer: string } | undefined;
  /** The groups of the page's own server, and the other servers of their configurations. */
  ownGroups: string[];
  otherServers: string[];
  lastView: GroupView[] | undefined;
  /** Groups with kept history and charts, oldest pick first (at most chartedGroupsMax). */
  readonly charted: string[];
  /** The user picked the charted groups: no more automatic picks. */
  pickedByUser: boolean;
  readonly histories: Map<string, GroupHistory>;
  readonly servers: Map<string, ServerHealth>;
  /** The timer of the next poll round; undefined while a round runs. */
  nextPoll: ReturnType<typeof setTimeout> | undefined;
}

/** Starts the page: one poll round now, then one every DASHBOARD_LIMITS.pollMs. */
export function dashboardMain(): void {
  const state: DashboardState = {
    self: location.host,
    selected: undefined,
    ownGroups: [],
    otherServers: [],
    lastView: undefined,
    charted: [],
    pickedByUser: false,
    histories: new Map(),
    servers: new Map(),
    nextPoll: undefined,
  };
  document.getElementById("server").textContent = state.self;
  document.getElementById("groups").addEventListener("click", (event) => onClick(state, event.target));
  // Back in view: refresh now rather than at the end of a background interval.
  document.addEventListener("visibilitychange", () => {
    if (document.hidden || state.nextPoll === undefined) return;
    clearTimeout(state.nextPoll);
    state.nextPoll = undefined;
    void pollLoop(state);
  });
  void pollLoop(state);
}

async function pollLoop(state: DashboardState): Promise<void> {
  try {
    const t = Date.now();
    const polls = await pollServers(state);
    const view = buildView(polls, state.ownGroups);
    state.lastView = view;
    recordRound(state, view, polls, t);
    renderPage(state, Date.now());
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    const own = polls[0];
    document.getElementById("error").textContent =
      own && !own.ok
        ? state.self + " does not answer (" + own.error + "): showing what its peers report"
        : "";
    if (state.selected) showDetail(state);
  } catch (err) {
    document.getElementById("error").textContent = "refresh failed: " + String(err);
  }
  // A background tab (nobody looking) polls ten times less often.
  const delayMs = document.hidden ? DASHBOARD_LIMITS.hiddenPollMs : DASHBOARD_LIMITS.pollMs;
  state.nextPoll = setTimeout(() => {
    state.nextPoll = undefined;
    void pollLoop(state);
  }, delayMs);
}

function urlOf(state: DashboardState, endpoint: string, path: string): string {
  return endpoint === state.self ? path : location.protocol + "//" + endpoint + path;
}

async function fetchWithTimeout(url: string): Promise<Response> {
  // Answers carry cache-control: no-store, so every poll reaches the server.
  const res = await fetch(url, { signal: AbortSignal.timeout(DASHBOARD_LIMITS.fetchTimeoutMs) });
  if (!res.ok) throw new Error("HTTP " + res.status);
  return res;
}

async function fetchServer(state: DashboardState, endpoint: string): Promise<ServerPoll> {
  const started = performance.now();
  try {
    const res = await fetchWithTimeout(urlOf(state, endpoint, "/raft_stat?format=json"));
    const json = (await res.json()) as { time?: number; nodes?: NodeStatus[] };
    const rttMs = performance.now() - started;
    return { endpoint, ok: true, error: "", rttMs, time: json.time ?? 0, nodes: json.nodes ?? [] };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { endpoint, ok: false, error, rttMs: performance.now() - started, time: 0, nodes: [] };
  }
}

/**
 * This server and the others of its groups, at once (the same instant for every server, as far as
 * the network allows). Servers its answer names for the first time are polled right after it;
 * while it does not answer, the servers it named last.
 */
async function pollServers(state: DashboardState): Promise<ServerPoll[]> {
  const known = state.otherServers;
  const [own, ...others] = await Promise.all([state.self, ...known].map((e) => fetchServer(state, e)));
  if (!own) return [];
  if (own.ok) {
    const covered = new Set([state.self]);
    const named = new Set<string>();
    for (const n of own.nodes) {
      covered.add(endpointOf(n.peerId));
      for (const p of membersOf(n)) named.add(endpointOf(p));
    }
    state.ownGroups = [...new Set(own.nodes.map((n) => n.groupId))];
    state.otherServers = [...named].filter((e) => !covered.has(e));
  }
  const polled = new Set([state.self, ...known]);
  const fresh = await Promise.all(
    state.otherServers.filter((e) => !polled.has(e)).map((e) => fetchServer(state, e)),
  );
  const current = new Set([state.self, ...state.otherServers]);
  return [own, ...others.filter((p) => current.has(p.endpoint)), ...fresh];
}

/** Adds this round to the histories of the charted groups and to the servers' health. */
function recordRound(
  state: DashboardState,
  view: readonly GroupView[],
  polls: readonly ServerPoll[],
  t: number,
): void {
  const groups = view.map((g) => g.group);
  if (!state.pickedByUser) {
    for (const group of groups) {
      if (state.charted.length < DASHBOARD_LIMITS.chartedGroupsMax && !state.charted.includes(group))
        state.charted.push(group);
    }
  }
  for (const group of [...state.histories.keys()]) {
    if (!state.charted.includes(group)) state.histories.delete(group);
  }
  for (const g of view) {
    if (!state.charted.includes(g.group)) continue;
    let history = state.histories.get(g.group);
    if (!history) {
      history = { samples: [], events: [] };
      state.histories.set(g.group, history);
    }
    recordGroup(history, g, t);
  }
  recordServers(state.servers, polls, t);
}

/** Charts a group or stops charting it (dropping its history); the oldest pick goes beyond the limit. */
function toggleChart(state: DashboardState, group: string): void {
  state.pickedByUser = true;
  const at = state.charted.indexOf(group);
  if (at >= 0) {
    state.charted.splice(at, 1);
    state.histories.delete(group);
    return;
  }
  state.charted.push(group);
  // Empty charts at once; the next round draws their first points.
  state.histories.set(group, { samples: [], events: [] });
  if (state.charted.length > DASHBOARD_LIMITS.chartedGroupsMax) {
    const dropped = state.charted.shift();
    if (dropped !== undefined) state.histories.delete(dropped);
  }
}

function renderPage(state: DashboardState, now: number): void {
  const servers = [...state.servers.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : 1));
  document.getElementById("servers").innerHTML = serverCardsHtml(servers, now);
  const html = (state.lastView ?? []).map((g) => groupHtml(state, g, now)).join("");
  document.getElementById("groups").innerHTML = html || "<p>no raft groups on this server</p>";
}

function groupHtml(state: DashboardState, g: GroupView, now: number): string {
  const leader = g.leader
    ? `${esc(g.leader.peerId)}</span> term ${esc(g.leader.term)}`
    : `none</span>${g.term > 0 ? ` (term ${esc(g.term)})` : ""}`;
  const history = state.histories.get(g.group);
  const toggle = `<button class="chart-toggle" data-group="${esc(g.group)}">${history ? "hide charts" : "chart"}</button>`;
  const head = `<h2>${esc(g.group)}<span class="leader">leader: <span class="leader-id">${leader}</span>${toggle}</h2>`;
  const charts = history ? groupChartsHtml(history, g.rows, now) : "";
  const rows = g.rows.map((r) => rowHtml(state, g.group, r, now)).join("");
  return (
    `<section class="group" data-group="${esc(g.group)}">${head}${charts}` +
    "<table><tr><th>peer</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>last</th>" +
    `<th>disk</th><th>lag</th><th>last contact</th><th>health</th></tr>${rows}</table></section>`
  );
}

function rowHtml(state: DashboardState, group: string, r: PeerRow, now: number): string {
  const n = r.node;
  const role = n ? n.state : r.health === "missing" ? "NO NODE" : "UNREACHABLE";
  const selected = state.selected && state.selected.group === group && state.selected.peer === r.peer;
  const cells = n
    ? [n.term, n.committedIndex, n.appliedIndex, n.lastIndex, n.diskIndex]
    : ["", "", "", "", ""];
  return (
    `<tr class="node${selected ? " selected" : ""}" data-peer="${esc(r.peer)}" data-group="${esc(group)}" ` +
    `data-state="${esc(role)}" data-health="${esc(r.health)}">` +
    `<td>${esc(r.peer)}</td><td class="s-${esc(role)}">${esc(role)}</td>` +
    cells.map((value) => `<td>${esc(value)}</td>`).join("") +
    `<td>${esc(r.lag ?? "")}</td><td>${esc(lastContactOf(state, r, now))}</td>` +
    `<td class="h-${esc(r.health)}" title="${esc(r.error)}">${esc(r.health)}</td></tr>`
  );
}

/** A follower: since it last heard its leader; a leader: leading; a silent peer: since its server last answered. */
function lastContactOf(state: DashboardState, r: PeerRow, now: number): string {
  const n = r.node;
  if (n) {
    if (n.state === "LEADER" || n.state === "TRANSFERRING") return "leading";
    return n.lastMsgToNowMs === undefined ? "" : "leader " + n.lastMsgToNowMs + " ms ago";
  }
  const server = state.servers.get(endpointOf(r.peer));
  if (!server || server.lastOkAt === undefined) return "never seen";
  return "seen " + Math.round((now - server.lastOkAt) / 1000) + " s ago";
}

function onClick(state: DashboardState, target: DomElement): void {
  const toggle = target.closest("button.chart-toggle");
  if (toggle) {
    toggleChart(state, toggle.dataset.group ?? "");
    renderPage(state, Date.now());
    return;
  }
  const row = target.closest("tr.node");
  if (!row) return;
  state.selected = { group: row.dataset.group ?? "", peer: row.dataset.peer ?? "" };
  renderPage(state, Date.now());
  showDetail(state);
}

/** Shows the selected node's `/raft_stat/<group>` text below the groups. */
function showDetail(state: DashboardState): void {
  const box = document.getElementById("detail");
  const want = state.selected;
  if (!want) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  document.getElementById("detail-title").textContent = "raft_stat of " + want.peer + " in " + want.group;
  const url = urlOf(state, endpointOf(want.peer), "/raft_stat/" + encodeURIComponent(want.group));
  fetchWithTimeout(url)
    .then((res) => res.text())
    .catch((err: unknown) => "unreachable: " + (err instanceof Error ? err.message : String(err)))
    .then((text) => {
      if (want !== state.selected) return;
      const pre = document.getElementById("detail-text");
      pre.textContent = text;
      pre.dataset.peer = want.peer;
    });
}

/** This file's functions, as dashboard-html.ts ships them to the browser. */
export const DASHBOARD_CLIENT_FUNCTIONS = [
  dashboardMain,
  pollLoop,
  urlOf,
  fetchWithTimeout,
  fetchServer,
  pollServers,
  recordRound,
  toggleChart,
  renderPage,
  groupHtml,
  rowHtml,
  lastContactOf,
  onClick,
  showDetail,
];
