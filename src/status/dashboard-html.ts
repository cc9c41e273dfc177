/**
 * The dashboard page: one self-contained HTML document (inline CSS and script, no external
 * requests, so it works offline and behind any firewall). The script is the source text of the
 * client functions in dashboard-view.ts, dashboard-history.ts, dashboard-charts.ts and
 * dashboard-client.ts, which the TypeScript compiler checks and Node's tests run like any code;
 * here they are joined after DASHBOARD_LIMITS and started by dashboardMain().
 */
import { DASHBOARD_CHART_FUNCTIONS } from "./dashboard-charts.js";
import { DASHBOARD_CLIENT_FUNCTIONS } from "./dashboard-client.js";
import { DASHBOARD_HISTORY_FUNCTIONS, DASHBOARD_LIMITS } from "./dashboard-history.js";
import { DASHBOARD_VIEW_FUNCTIONS } from "./dashboard-view.js";

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#23395d;color:#fff;padding:.6em 1.2em;display:flex;gap:1.5em;align-items:baseline}
header a{color:#cde}
main{padding:.5em 1.2em}
#servers{display:flex;flex-wrap:wrap;gap:.6em;margin:.8em 0 0}
.server{background:#fff;border:1px solid #ddd;border-left:6px solid #16a34a;border-radius:6px;padding:.3em .7em;min-width:13em}
.server.down{border-left-color:#dc2626;background:#fff5f5}
.server .state{color:#0a6b2d}
.server.down .state{color:#b42318;font-weight:bold}
svg.uptime{display:block;width:150px;height:8px;margin-top:.2em;background:#eee}
section.group{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.8em 0;padding:.4em .9em}
h2{font-size:1.1em;margin:.3em 0}
h3{font-size:.95em;margin:.4em 0 .2em;color:#444}
.leader{font-weight:normal;color:#555;margin-left:1em}
.chart-toggle{margin-left:1em;font-size:.8em}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:.8em}
figure.chart-box{margin:0}
figcaption{font-size:.9em;color:#444}
svg.chart{display:block;width:100%;height:130px;background:#fcfcfd;border:1px solid #eee}
svg.chart .grid{stroke:#e5e7eb;stroke-width:1}
svg.chart .axis{font-size:10px;fill:#777}
svg.chart .series{fill:none;stroke-width:2;stroke-linecap:round;stroke-linejoin:round;vector-effect:non-scaling-stroke}
.legend{font-size:.85em;color:#444;margin:.3em 0}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 .25em 0 .6em;vertical-align:-1px}
svg.timeline{display:block;width:100%;height:26px;background:#f3f4f6}
svg.timeline text{font-size:11px;fill:#fff}
ol.events{font-size:.85em;color:#444;margin:.2em 0 .4em;padding-left:1.4em;columns:2}
table{border-collapse:collapse;width:100%;margin-top:.4em}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eee;font-variant-numeric:tabular-nums}
tr.node{cursor:pointer}
tr.node:hover{background:#f0f4fa}
tr.selected{background:#e3ecf9}
.s-LEADER{color:#0a6b2d;font-weight:bold}
.s-CANDIDATE,.s-TRANSFERRING{color:#9a6700}
.s-ERROR,.s-UNREACHABLE,.h-unreachable,.h-missing{color:#b42318;font-weight:bold}
#detail{margin:0 1.2em 1.2em;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.4em .9em}
#detail pre{white-space:pre-wrap;font-size:12px}
#error{color:#b42318;margin:0 1.2em}
`;

/** The client functions' source, after the limits they read, then the call that starts the page. */
function clientScript(): string {
  const functions = [
    ...DASHBOARD_VIEW_FUNCTIONS,
    ...DASHBOARD_HISTORY_FUNCTIONS,
    ...DASHBOARD_CHART_FUNCTIONS,
    ...DASHBOARD_CLIENT_FUNCTIONS,
  ];
  const source = [
    '"use strict";',
    // esbuild's keepNames (tsx, some bundlers) wraps functions in __name(); make that a no-op here.
    "const __name = (f) => f;",
    `const DASHBOARD_LIMITS = ${JSON.stringify(DASHBOARD_LIMITS)};`,
    ...functions.map((f) => f.toString()),
    "dashboardMain();",
  ].join("\n");
  // The source sits inside <script>: no "</script" may end it early (none is written, this makes sure).
  return source.replace(/<\/(script)/gi, "<\\/$1");
}

/** The page served at `/` (built once, when the module loads). */
export const DASHBOARD_HTML = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tsraft dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>
<header><strong>tsraft</strong><span>server <span id="server"></span></span><span id="updated">loading…</span>
<a href="/raft_stat">raft_stat</a><a href="/flags">flags</a><a href="/metrics">metrics</a></header>
<main><section id="servers"></section><div id="groups"></div></main>
<p id="error"></p>
<section id="detail" hidden><h2 id="detail-title"></h2><pre id="detail-text"></pre></section>
<script>
${clientScript()}
</script>
</body></html>
`;
