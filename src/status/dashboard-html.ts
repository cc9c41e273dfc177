/**
 * The dashboard page: one self-contained HTML document (inline CSS and JS, no build step).
 *
 * The browser polls `/raft_stat?format=json` of the server that served the page every second,
 * learns the other servers from the peers it lists, and polls their `/raft_stat?format=json`
 * directly (the status pages allow any origin). A server that does not answer within
 * FETCH_TIMEOUT_MS is shown unreachable. Clicking a node shows its `/raft_stat/<group>` text.
 * Every value from a server (group names come from users) is escaped before it is rendered.
 *
 * The script avoids template literals so that it can live inside this TS template literal.
 */
export const DASHBOARD_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tsraft dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23395d;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#cde}
main{padding:.5em 1.2em}
section.group{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.4em .9em}
h2{font-size:1.1em;margin:.3em 0}
.leader{font-weight:normal;color:#555;margin-left:1em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
tr.node{cursor:pointer}
tr.node:hover{background:#f0f4fa}
tr.selected{background:#e3ecf9}
.s-LEADER{color:#0a6b2d;font-weight:bold}
.s-CANDIDATE,.s-TRANSFERRING{color:#9a6700}
.s-ERROR,.h-unreachable,.h-missing{color:#b42318;font-weight:bold}
#detail{margin:0 1.2em 1.2em;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4em .9em}
#detail pre{white-space:pre-wrap;font-size:12px}
#error{color:#b42318;margin:0 1.2em}
</style></head>
<body>
<header><strong>tsraft</strong><span>server <span id="server"></span></span><span id="updated">loading…</span>
<a href="/raft_stat">raft_stat</a><a href="/flags">flags</a></header>
<main id="groups"></main>
<p id="error"></p>
<section id="detail" hidden><h2 id="detail-title"></h2><pre id="detail-text"></pre></section>
<script>
"use strict";
var POLL_MS = 1000;
var FETCH_TIMEOUT_MS = 800;
var self = location.host;
var selected = null;
var lastView = null;

function esc(value) {
  return String(value).replace(/[&<>"']/g, function (c) {
    return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
  });
}

/** "ip:port:idx[:role]" or "[v6]:port:idx" -> "ip:port". */
function endpointOf(peer) {
  if (peer.charAt(0) === "[") {
    var close = peer.indexOf("]");
    return peer.slice(0, close + 1) + ":" + peer.slice(close + 2).split(":")[0];
  }
  var parts = peer.split(":");
  return parts[0] + ":" + parts[1];
}

function urlOf(endpoint, path) {
  return endpoint === self ? path : location.protocol + "//" + endpoint + path;
}

function fetchWithTimeout(url) {
  return fetch(url, { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) }).then(function (res) {
    if (!res.ok) throw new Error("HTTP " + res.status);
    return res;
  });
}

function fetchServer(endpoint) {
  return fetchWithTimeout(urlOf(endpoint, "/raft_stat?format=json"))
    .then(function (res) { return res.json(); })
    .then(function (json) { return { endpoint: endpoint, ok: true, nodes: json.nodes || [] }; },
          function (err) { return { endpoint: endpoint, ok: false, error: String(err && err.message || err), nodes: [] }; });
}

/**
 * Polls this server, then the other servers of its groups' configurations. While this server
 * does not answer, the groups and servers it named last time are polled.
 */
var ownGroups = [];
var otherServers = [];
async function poll() {
  var first = await fetchServer(self);
  if (first.ok) {
    var covered = new Set([self]);
    var named = new Set();
    first.nodes.forEach(function (n) {
      covered.add(endpointOf(n.peerId));
      membersOf(n).forEach(function (p) { named.add(endpointOf(p)); });
    });
    ownGroups = Array.from(new Set(first.nodes.map(function (n) { return n.groupId; })));
    otherServers = Array.from(named).filter(function (e) { return !covered.has(e); });
  }
  var more = await Promise.all(otherServers.map(fetchServer));
  return [first].concat(more);
}

function membersOf(n) {
  return [].concat(n.peers || [], n.learners || [], n.oldPeers || [], n.newPeers || []);
}

/** Groups -> peers, each with its own status (if its server answered) and the leader's view of it. */
function buildView(results) {
  var reach = new Map();
  var status = new Map();
  var groups = new Map();
  results.forEach(function (r) {
    reach.set(r.endpoint, r);
    r.nodes.forEach(function (n) {
      reach.set(endpointOf(n.peerId), r);
      if (ownGroups.indexOf(n.groupId) < 0) return;
      status.set(n.groupId + "\\n" + n.peerId, n);
      if (!groups.has(n.groupId)) groups.set(n.groupId, new Set());
      var members = groups.get(n.groupId);
      members.add(n.peerId);
      membersOf(n).forEach(function (p) { members.add(p); });
    });
  });
  return Array.from(groups.keys()).sort().map(function (group) {
    var peers = Array.from(groups.get(group)).sort();
    var leader = null;
    peers.forEach(function (p) {
      var n = status.get(group + "\\n" + p);
      if (n && (n.state === "LEADER" || n.state === "TRANSFERRING") && (!leader || n.term > leader.term)) leader = n;
    });
    var rows = peers.map(function (p) {
      var n = status.get(group + "\\n" + p) || null;
      var server = reach.get(endpointOf(p));
      var health = n ? "ok" : server && server.ok ? "missing" : "unreachable";
      return { peer: p, node: n, health: health, lag: lagOf(leader, n, p), error: server && server.error };
    });
    return { group: group, leader: leader, rows: rows };
  });
}

function lagOf(leader, n, peer) {
  if (!leader) return "";
  if (leader.peerId === peer) return 0;
  var r = (leader.replicators || []).find(function (x) { return x.peerId === peer; });
  if (r) return r.lag;
  return n ? Math.max(0, leader.lastIndex - n.lastIndex) : "";
}

function render(view) {
  var html = view.map(function (g) {
    var head = "<h2>" + esc(g.group) + "<span class=\\"leader\\">leader: <span class=\\"leader-id\\">" +
      (g.leader ? esc(g.leader.peerId) + "</span> term " + esc(g.leader.term) : "none</span>") + "</span></h2>";
    var rows = g.rows.map(function (r) {
      var n = r.node;
      var state = n ? n.state : r.health === "missing" ? "NO NODE" : "UNREACHABLE";
      var isSelected = selected && selected.group === g.group && selected.peer === r.peer;
      return "<tr class=\\"node" + (isSelected ? " selected" : "") + "\\" data-peer=\\"" + esc(r.peer) +
        "\\" data-group=\\"" + esc(g.group) + "\\" data-state=\\"" + esc(state) + "\\" data-health=\\"" + esc(r.health) + "\\">" +
        "<td>" + esc(r.peer) + "</td><td class=\\"s-" + esc(state) + "\\">" + esc(state) + "</td>" +
        "<td>" + (n ? esc(n.term) : "") + "</td><td>" + (n ? esc(n.committedIndex) : "") + "</td>" +
        "<td>" + (n ? esc(n.appliedIndex) : "") + "</td><td>" + (n ? esc(n.lastIndex) : "") + "</td>" +
        "<td>" + (n ? esc(n.diskIndex) : "") + "</td><td>" + esc(r.lag) + "</td>" +
        "<td class=\\"h-" + esc(r.health) + "\\" title=\\"" + esc(r.error || "") + "\\">" + esc(r.health) + "</td></tr>";
    }).join("");
    return "<section class=\\"group\\" data-group=\\"" + esc(g.group) + "\\">" + head +
      "<table><tr><th>peer</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>last</th>" +
      "<th>disk</th><th>lag</th><th>health</th></tr>" + rows + "</table></section>";
  }).join("");
  document.getElementById("groups").innerHTML = html || "<p>no raft groups on this server</p>";
}

function showDetail() {
  var box = document.getElementById("detail");
  if (!selected) { box.hidden = true; return; }
  box.hidden = false;
  document.getElementById("detail-title").textContent = "raft_stat of " + selected.peer + " in " + selected.group;
  var path = "/raft_stat/" + encodeURIComponent(selected.group);
  var want = selected;
  fetchWithTimeout(urlOf(endpointOf(selected.peer), path))
    .then(function (res) { return res.text(); })
    .then(function (text) { return text; }, function (err) { return "unreachable: " + (err && err.message || err); })
    .then(function (text) {
      if (want !== selected) return;
      var pre = document.getElementById("detail-text");
      pre.textContent = text;
      pre.dataset.peer = want.peer;
    });
}

document.getElementById("groups").addEventListener("click", function (event) {
  var row = event.target.closest("tr.node");
  if (!row) return;
  selected = { group: row.dataset.group, peer: row.dataset.peer };
  if (lastView) render(lastView);
  showDetail();
});

async function loop() {
  try {
    var results = await poll();
    lastView = buildView(results);
    render(lastView);
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
    document.getElementById("error").textContent = results[0].ok ? "" :
      self + " does not answer (" + results[0].error + "): showing what its peers report";
    if (selected) showDetail();
  } catch (err) {
    document.getElementById("error").textContent = "refresh failed: " + (err && err.message || err);
  }
  setTimeout(loop, POLL_MS);
}

document.getElementById("server").textContent = self;
loop();
</script>
</body></html>
`;
