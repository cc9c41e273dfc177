/**
 * Dashboard, browser side: the bounded history behind the charts. Each poll round appends one
 * sample per charted group (its commit progress and each peer's applied index and lag) and one
 * up/down mark per server; leader changes are kept as events. Everything lives in the browser
 * that looks, and every collection has a fixed cap (DASHBOARD_LIMITS), so a server pays nothing
 * for the charts and a page left open for days holds the same memory as after five minutes.
 */
import type { GroupView, PeerRow, ServerPoll } from "./dashboard-view.js";

/** The dashboard's timing and bounds; shipped to the browser with the client functions. */
export const DASHBOARD_LIMITS = {
  /** One poll round per second: finer than a person reads, coarse enough for hundreds of groups. */
  pollMs: 1000,
  /** Poll interval while the tab is hidden: nobody looks, the servers are asked ten times less. */
  hiddenPollMs: 10_000,
  /** A server that has not answered in this time is shown down for the round. */
  fetchTimeoutMs: 800,
  /** Samples per charted group and marks per server: five minutes of one-second rounds. */
  samplesMax: 300,
  /** The charts' time axis spans the history kept, but never less than a minute (young charts stay readable). */
  chartWindowMinMs: 60_000,
  /** Leader changes kept per charted group (a flapping group shows its last 50). */
  leaderEventsMax: 50,
  /**
   * Groups charted at once (the first ones by name unless the user picks others). A process may
   * host thousands of groups; the table lists them all, the charts keep history for these only.
   */
  chartedGroupsMax: 6,
} as const;

/** One peer in one sample. */
export interface PeerPoint {
  /** Its server answered with this node. */
  readonly up: boolean;
  /** Its server's clock when it reported (0 when it did not), and its last and applied indexes then. */
  readonly time: number;
  readonly last: number | undefined;
  readonly applied: number | undefined;
  /** Entries it lacks behind the leader (as the leader reports it); undefined while it leads or no leader is in view. */
  readonly lag: number | undefined;
  /** Milliseconds from its append of the entry it last applied to this sample (an estimate, see applyLatencyOf). */
  readonly applyLatencyMs: number | undefined;
}

/** One poll round of one group. */
export interface GroupSample {
  /** Browser time of the round, milliseconds since the epoch. */
  readonly t: number;
  /** The highest committed index any peer reported; undefined when none answered. */
  readonly commit: number | undefined;
  /** Entries committed per second since the previous sample. */
  readonly commitsPerS: number | undefined;
  readonly peers: Readonly<Record<string, PeerPoint>>;
}

/** The group had `leader` ("" for none seen) in `term` from time `t`. */
export interface LeaderEvent {
  readonly t: number;
  readonly term: number;
  readonly leader: string;
}

export interface GroupHistory {
  readonly samples: GroupSample[];
  readonly events: LeaderEvent[];
}

/** One server's reachability over the window. */
export interface ServerHealth {
  readonly endpoint: string;
  up: boolean;
  /** When `up` last flipped (or the server was first polled). */
  changedAt: number;
  /** When it last answered; undefined if it never did. */
  lastOkAt: number | undefined;
  rttMs: number;
  error: string;
  /** Nodes it hosts and how many of them lead, from its last answer. */
  nodes: number;
  leaders: number;
  /** Up/down per round, oldest first. */
  readonly marks: { readonly t: number; readonly up: boolean }[];
}

/** Drops the oldest items beyond `max`. */
export function keepLast<T>(items: T[], max: number): void {
  if (items.length > max) items.splice(0, items.length - max);
}

/** Appends this round's sample and leader event of `view` to `history`. */
export function recordGroup(history: GroupHistory, view: GroupView, t: number): void {
  const answered = view.rows.filter((r) => r.node !== undefined);
  const commit =
    answered.length === 0 ? undefined : Math.max(...answered.map((r) => r.node?.committedIndex ?? 0));
  const previous = history.samples[history.samples.length - 1];
  const peers: Record<string, PeerPoint> = {};
  for (const row of view.rows) peers[row.peer] = peerPointOf(history.samples, view, row);
  history.samples.push({ t, commit, commitsPerS: rateOf(previous, commit, t), peers });
  keepLast(history.samples, DASHBOARD_LIMITS.samplesMax);
  if (answered.length > 0) recordLeader(history.events, view, t);
}

/** One peer's point of this round; `samples` are the rounds before it. */
function peerPointOf(samples: readonly GroupSample[], view: GroupView, row: PeerRow): PeerPoint {
  const n = row.node;
  const point = {
    up: n !== undefined,
    time: row.time,
    last: n ? n.lastIndex : undefined,
    applied: n ? n.appliedIndex : undefined,
  };
  const previous = samples[samples.length - 1]?.peers[row.peer];
  const movedOn = n !== undefined && n.appliedIndex > 0 && (!previous || previous.applied !== n.appliedIndex);
  const leading = view.leader !== undefined && view.leader.peerId === row.peer;
  return {
    ...point,
    // A follower that is down still has a lag, and the leader still reports it: keep it.
    lag: leading ? undefined : row.lag,
    applyLatencyMs: movedOn ? applyLatencyOf(samples, row.peer, point, n.appliedIndex) : undefined,
  };
}

/** Commits per second between `previous` and now; undefined across a gap or a restart that lowered it. */
function rateOf(
  previous: GroupSample | undefined,
  commit: number | undefined,
  t: number,
): number | undefined {
  if (!previous || previous.commit === undefined || commit === undefined) return undefined;
  if (commit < previous.commit || t <= previous.t) return undefined;
  return ((commit - previous.commit) * 1000) / (t - previous.t);
}

/**
 * How long before `newest` the peer appended entry `index` to its log, from its own samples: the
 * append time is interpolated between the two samples whose last indexes bracket `index`. On a
 * leader that is the whole way of an apply (append, replicate, commit, apply); on a follower, from
 * receiving the entry to applying it. Times are the peer's server clock (one clock, no skew between
 * servers); exact while entries arrive at a steady rate, off by at most one poll interval otherwise.
 * Undefined when the kept samples do not reach back to that append.
 */
export function applyLatencyOf(
  samples: readonly GroupSample[],
  peer: string,
  newest: { readonly time: number; readonly last: number | undefined },
  index: number,
): number | undefined {
  let after = newest;
  for (let i = samples.length - 1; i >= 0; i--) {
    const before = samples[i]?.peers[peer];
    if (!before || before.last === undefined || after.last === undefined || before.time === 0)
      return undefined;
    if (before.last < index && index <= after.last) {
      const fraction = (index - before.last) / (after.last - before.last);
      return Math.max(0, newest.time - (before.time + fraction * (after.time - before.time)));
    }
    after = before;
  }
  return undefined;
}

/** A new event when the leader or the term differs from the last event's. */
function recordLeader(events: LeaderEvent[], view: GroupView, t: number): void {
  const leader = view.leader ? view.leader.peerId : "";
  const term = view.leader ? view.leader.term : view.term;
  const latest = events[events.length - 1];
  if (latest && latest.leader === leader && latest.term === term) return;
  events.push({ t, term, leader });
  keepLast(events, DASHBOARD_LIMITS.leaderEventsMax);
}

/** Updates each polled server's health with this round; forgets the servers it did not poll. */
export function recordServers(
  health: Map<string, ServerHealth>,
  polls: readonly ServerPoll[],
  t: number,
): void {
  for (const poll of polls) {
    let server = health.get(poll.endpoint);
    if (!server) {
      server = {
        endpoint: poll.endpoint,
        up: poll.ok,
        changedAt: t,
        lastOkAt: undefined,
        rttMs: 0,
        error: "",
        nodes: 0,
        leaders: 0,
        marks: [],
      };
      health.set(poll.endpoint, server);
    }
    if (server.up !== poll.ok) server.changedAt = t;
    server.up = poll.ok;
    server.rttMs = poll.rttMs;
    server.error = poll.error;
    if (poll.ok) {
      server.lastOkAt = t;
      server.nodes = poll.nodes.length;
      server.leaders = poll.nodes.filter((n) => n.state === "LEADER" || n.state === "TRANSFERRING").length;
    }
    server.marks.push({ t, up: poll.ok });
    keepLast(server.marks, DASHBOARD_LIMITS.samplesMax);
  }
  // A server no longer polled (its peers left every configuration) leaves the page at once.
  const polled = new Set(polls.map((p) => p.endpoint));
  for (const endpoint of [...health.keys()]) if (!polled.has(endpoint)) health.delete(endpoint);
}

/** This file's functions, as dashboard-html.ts ships them to the browser (DASHBOARD_LIMITS goes as data). */
export const DASHBOARD_HISTORY_FUNCTIONS = [
  keepLast,
  recordGroup,
  peerPointOf,
  rateOf,
  applyLatencyOf,
  recordLeader,
  recordServers,
];
