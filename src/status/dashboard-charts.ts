/**
 * Dashboard, browser side: hand-drawn SVG charts (no library, no CDN: the page works offline).
 * Each function returns markup for one chart from a group's history; the page re-renders them
 * every poll round. Every text that came from a server goes through esc().
 */
import {
  DASHBOARD_LIMITS,
  type GroupHistory,
  type LeaderEvent,
  type PeerPoint,
  type ServerHealth,
} from "./dashboard-history.js";
import { esc, type PeerRow } from "./dashboard-view.js";

/** A value at a browser time; undefined draws a gap. */
export type ChartPoint = readonly [t: number, value: number | undefined];

export interface ChartSeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly ChartPoint[];
}

export interface LineChart {
  /** Names the chart for the page's CSS and tests (`data-chart`). */
  readonly kind: string;
  /** What it shows, for screen readers. */
  readonly title: string;
  /** The time window shown, browser milliseconds. */
  readonly t0: number;
  readonly t1: number;
  readonly series: readonly ChartSeries[];
}

/** The start of the charts' time axis ending at `now`, for history beginning at `firstT`. */
export function windowStartOf(firstT: number | undefined, now: number): number {
  const kept = DASHBOARD_LIMITS.samplesMax * DASHBOARD_LIMITS.pollMs;
  const span = firstT === undefined ? 0 : now - firstT;
  return now - Math.min(kept, Math.max(DASHBOARD_LIMITS.chartWindowMinMs, span));
}

/** A distinct color for the i-th peer of a group (the same in every chart and the legend). */
export function peerColor(i: number): string {
  const palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];
  return palette[i % palette.length] ?? "#555";
}

/** The smallest 1, 2 or 5 times a power of ten that is at least `value` (at least 1). */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** 1234 -> "1.2k": axis labels stay short. */
export function shortNumber(value: number): string {
  if (value >= 1e6) return (value / 1e6).toFixed(value >= 1e7 ? 0 : 1) + "M";
  if (value >= 1e3) return (value / 1e3).toFixed(value >= 1e4 ? 0 : 1) + "k";
  return String(Math.round(value * 10) / 10);
}

/**
 * One line per series over [t0, t1], y from 0 to a round maximum, gaps where values are missing.
 * Each path carries `data-points`, the number of values it draws.
 */
export function lineChartSvg(chart: LineChart): string {
  // The drawing area in SVG user units (the SVG scales to its box); room for labels left and below.
  const [width, height, left, right, top, bottom] = [360, 130, 44, 8, 8, 18];
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const span = Math.max(1, chart.t1 - chart.t0);
  const values = chart.series.flatMap((s) => s.points.map((p) => p[1] ?? 0));
  const yMax = niceCeiling(Math.max(0, ...values));
  const x = (t: number) => (left + ((t - chart.t0) / span) * plotWidth).toFixed(1);
  const y = (v: number) => (top + plotHeight - (Math.min(v, yMax) / yMax) * plotHeight).toFixed(1);
  const grid = [0, 0.5, 1].map((f) => {
    const gy = y(yMax * f);
    return (
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${gy}" y2="${gy}"/>` +
      `<text class="axis" x="${left - 4}" y="${gy}" text-anchor="end" dominant-baseline="middle">${shortNumber(yMax * f)}</text>`
    );
  });
  const ago =
    span >= 120_000 ? `${Math.round(span / 6000) / 10} min ago` : `${Math.round(span / 1000)} s ago`;
  const axis =
    `<text class="axis" x="${left}" y="${height - 4}">${ago}</text>` +
    `<text class="axis" x="${width - right}" y="${height - 4}" text-anchor="end">now</text>`;
  const lines = chart.series.map((s) => {
    const drawn = s.points.filter((p) => p[0] >= chart.t0 && p[1] !== undefined).length;
    const d = pathOf(s.points, chart.t0, x, y);
    return `<path class="series" stroke="${s.color}" data-series="${esc(s.label)}" data-points="${drawn}" d="${d}"><title>${esc(s.label)}</title></path>`;
  });
  return (
    `<svg class="chart" data-chart="${esc(chart.kind)}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" ` +
    `role="img" aria-label="${esc(chart.title)}">${grid.join("")}${axis}${lines.join("")}</svg>`
  );
}

/** SVG path data: a run of defined points is one `M ... L ...`; a lone point is a dot. */
function pathOf(
  points: readonly ChartPoint[],
  t0: number,
  x: (t: number) => string,
  y: (v: number) => string,
): string {
  let d = "";
  let run = 0;
  for (const [t, v] of points) {
    if (v === undefined || t < t0) {
      if (run === 1) d += " l0.1,0";
      run = 0;
      continue;
    }
    d += `${run === 0 ? " M" : " L"}${x(t)},${y(v)}`;
    run++;
  }
  if (run === 1) d += " l0.1,0";
  return d.trim();
}

/**
 * The leaders of a group over [t0, t1] as one colored band per leader and term ("" leader: no
 * leader seen, grey), then the changes as a list, newest first, each with `data-term` and `data-leader`.
 */
export function leaderTimelineHtml(
  events: readonly LeaderEvent[],
  peers: readonly string[],
  t0: number,
  t1: number,
): string {
  const [width, height] = [720, 26];
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => Math.max(0, Math.min(1, (t - t0) / span)) * width;
  const who = (e: LeaderEvent) => (e.leader === "" ? "no leader seen" : `leader ${esc(e.leader)}`);
  const bands = events.map((e, i) => {
    const next = events[i + 1];
    const [from, to] = [x(e.t), x(next ? next.t : t1)];
    if (to <= from) return "";
    const color = e.leader === "" ? "#c8ccd2" : peerColor(Math.max(0, peers.indexOf(e.leader)));
    const label =
      to - from > 40 ? `<text x="${(from + 4).toFixed(1)}" y="17">term ${esc(e.term)}</text>` : "";
    const rect = `<rect x="${from.toFixed(1)}" y="2" width="${(to - from).toFixed(1)}" height="${height - 4}" fill="${color}"/>`;
    return `<g>${rect}${label}<title>term ${esc(e.term)}: ${who(e)}</title></g>`;
  });
  const items = events
    .slice(-8)
    .reverse()
    .map((e) => {
      const time = esc(new Date(e.t).toLocaleTimeString());
      return `<li data-term="${esc(e.term)}" data-leader="${esc(e.leader)}"><time>${time}</time> term ${esc(e.term)}: ${who(e)}</li>`;
    });
  return (
    `<svg class="timeline" data-chart="timeline" viewBox="0 0 ${width} ${height}" preserveAspectRatio="none">${bands.join("")}</svg>` +
    `<ol class="events">${items.join("")}</ol>`
  );
}

/** The three charts of a group (commits/s, apply latency per peer, follower lag per peer), legend and leader timeline. */
export function groupChartsHtml(history: GroupHistory, rows: readonly PeerRow[], t1: number): string {
  const samples = history.samples;
  const t0 = windowStartOf(samples[0]?.t, t1);
  const peers = rows.map((r) => r.peer);
  const perPeer = (value: (p: PeerPoint) => number | undefined): ChartSeries[] =>
    peers.map((peer, i) => ({
      label: peer,
      color: peerColor(i),
      points: samples.map((s): ChartPoint => [s.t, s.peers[peer] ? value(s.peers[peer]) : undefined]),
    }));
  const commits = samples.map((s): ChartPoint => [s.t, s.commitsPerS]);
  const rate = samples[samples.length - 1]?.commitsPerS;
  const figure = (kind: string, title: string, series: ChartSeries[], now = "") =>
    `<figure class="chart-box"><figcaption>${esc(title)} <b class="now">${esc(now)}</b></figcaption>` +
    `${lineChartSvg({ kind, title, t0, t1, series })}</figure>`;
  const legend = peers.map(
    (peer, i) => `<span class="swatch" style="background:${peerColor(i)}"></span>${esc(peer)}`,
  );
  return (
    `<div class="charts">` +
    figure(
      "commits",
      "commits/s",
      [{ label: "commits/s", color: "#4f46e5", points: commits }],
      rate === undefined ? "–" : shortNumber(rate),
    ) +
    figure(
      "latency",
      "apply latency (ms, est.)",
      perPeer((p) => p.applyLatencyMs),
    ) +
    figure(
      "lag",
      "follower lag (entries)",
      perPeer((p) => p.lag),
    ) +
    `</div><p class="legend">${legend.join(" ")}</p>` +
    `<div class="timeline-box"><h3>leaders and terms</h3>${leaderTimelineHtml(history.events, peers, t0, t1)}</div>`
  );
}

/** Each server as a card: up or down and since when, answer time, nodes and leaders, its last minutes as a strip. */
export function serverCardsHtml(servers: readonly ServerHealth[], now: number): string {
  const seconds = (ms: number) => Math.round(ms / 1000);
  return servers
    .map((s) => {
      const state = `${s.up ? "up" : "down"} ${seconds(now - s.changedAt)} s`;
      const detail = s.up
        ? `${s.nodes} nodes, ${s.leaders} leading, ${Math.round(s.rttMs)} ms`
        : s.lastOkAt === undefined
          ? "never answered"
          : `last answer ${seconds(now - s.lastOkAt)} s ago`;
      return (
        `<div class="server ${s.up ? "up" : "down"}" data-endpoint="${esc(s.endpoint)}" data-up="${s.up ? 1 : 0}" title="${esc(s.error)}">` +
        `<b>${esc(s.endpoint)}</b> <span class="state">${state}</span><br><small>${esc(detail)}</small>${uptimeStripSvg(s, now)}</div>`
      );
    })
    .join("");
}

/** One bar per poll round: green when the server answered, red when not. */
function uptimeStripSvg(server: ServerHealth, now: number): string {
  const t0 = windowStartOf(server.marks[0]?.t, now);
  const width = 150;
  // Each round's bar is as wide as a round on this axis (at least one unit).
  const barWidth = Math.max(1, (DASHBOARD_LIMITS.pollMs / (now - t0)) * width);
  const bars = server.marks
    .filter((m) => m.t > t0)
    .map((m) => {
      // A bar ends at its round, so the newest one is drawn inside the strip.
      const x = Math.max(0, ((m.t - t0) / (now - t0)) * width - barWidth).toFixed(1);
      const fill = m.up ? "#16a34a" : "#dc2626";
      return `<rect x="${x}" y="0" width="${barWidth.toFixed(1)}" height="8" fill="${fill}"/>`;
    });
  return `<svg class="uptime" viewBox="0 0 ${width} 8" preserveAspectRatio="none">${bars.join("")}</svg>`;
}

/** This file's functions, as dashboard-html.ts ships them to the browser. */
export const DASHBOARD_CHART_FUNCTIONS = [
  windowStartOf,
  peerColor,
  niceCeiling,
  shortNumber,
  lineChartSvg,
  pathOf,
  leaderTimelineHtml,
  groupChartsHtml,
  serverCardsHtml,
  uptimeStripSvg,
];
