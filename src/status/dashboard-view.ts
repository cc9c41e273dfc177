/**
 * Dashboard, browser side: from what each server answered to the groups and peers the page shows.
 * Like every dashboard-*.ts client file, these functions run in the browser (dashboard-html.ts
 * ships their source text) and in Node's tests: they are plain functions that reach nothing
 * outside themselves but other client functions and DASHBOARD_LIMITS.
 */
import type { NodeStatus } from "../node/node-status.js";

/** What polling one server (`ip:port`) gave: its nodes, or why it did not answer. */
export interface ServerPoll {
  readonly endpoint: string;
  readonly ok: boolean;
  /** Why the poll failed; "" when it did not. */
  readonly error: string;
  /** Round trip of the poll in milliseconds (until it failed, when it did). */
  readonly rttMs: number;
  /** The server's clock when it answered (RaftStatJson.time); 0 when it did not. */
  readonly time: number;
  readonly nodes: readonly NodeStatus[];
}

/** `ok`: its server answered with this node; `missing`: it answered without it; `unreachable`: it did not answer. */
export type PeerHealth = "ok" | "unreachable" | "missing";

/** One peer of a group, as the page shows it. */
export interface PeerRow {
  readonly peer: string;
  /** The peer's own status; undefined when its server did not report it. */
  readonly node: NodeStatus | undefined;
  readonly health: PeerHealth;
  /** Entries it lacks behind the leader; undefined with no leader in view or for a peer without status. */
  readonly lag: number | undefined;
  /** Why its server did not answer; "" when it did. */
  readonly error: string;
  /** Its server's clock when it reported `node`; 0 without a node. */
  readonly time: number;
}

/** One group: its peers and the leader among them. */
export interface GroupView {
  readonly group: string;
  /** The peer reporting LEADER (or TRANSFERRING) in the highest term; undefined when none does. */
  readonly leader: NodeStatus | undefined;
  /** The highest term any peer reports (0 when none answered). */
  readonly term: number;
  readonly rows: readonly PeerRow[];
}

/** Escapes text for HTML element content and quoted attribute values (group names come from users). */
export function esc(value: unknown): string {
  const table: Record<string, string> = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
  };
  return String(value).replace(/[&<>"']/g, (c) => table[c] ?? c);
}

/** `ip:port:idx[:role]` or `[v6]:port:idx` -> `ip:port`. */
export function endpointOf(peer: string): string {
  if (peer.charAt(0) === "[") {
    const close = peer.indexOf("]");
    return peer.slice(0, close + 1) + ":" + (peer.slice(close + 2).split(":")[0] ?? "");
  }
  const parts = peer.split(":");
  return (parts[0] ?? "") + ":" + (parts[1] ?? "");
}

/** Every peer a node's configuration names: voters, learners and both sides of a change. */
export function membersOf(n: NodeStatus): string[] {
  return [...(n.peers ?? []), ...(n.learners ?? []), ...(n.oldPeers ?? []), ...(n.newPeers ?? [])];
}

/** The groups of `ownGroups`, each with every peer any answering server knows of. */
export function buildView(polls: readonly ServerPoll[], ownGroups: readonly string[]): GroupView[] {
  const pollOf = new Map<string, ServerPoll>();
  const statusOf = new Map<string, NodeStatus>();
  const members = new Map<string, Set<string>>();
  for (const poll of polls) {
    pollOf.set(poll.endpoint, poll);
    for (const n of poll.nodes) {
      pollOf.set(endpointOf(n.peerId), poll);
      if (!ownGroups.includes(n.groupId)) continue;
      statusOf.set(n.groupId + "\n" + n.peerId, n);
      const peers = members.get(n.groupId) ?? new Set<string>();
      members.set(n.groupId, peers);
      peers.add(n.peerId);
      for (const p of membersOf(n)) peers.add(p);
    }
  }
  return [...members.keys()].sort().map((group) => {
    const peers = [...(members.get(group) ?? [])].sort();
    const statuses = peers.map((p) => statusOf.get(group + "\n" + p));
    const leader = leaderOf(statuses);
    const rows = peers.map((peer, i): PeerRow => {
      const node = statuses[i];
      const poll = pollOf.get(endpointOf(peer));
      const health: PeerHealth = node ? "ok" : poll && poll.ok ? "missing" : "unreachable";
      const time = node && poll ? poll.time : 0;
      return { peer, node, health, lag: lagOf(leader, node, peer), error: poll ? poll.error : "", time };
    });
    const term = statuses.reduce((max, n) => Math.max(max, n ? n.term : 0), 0);
    return { group, leader, term, rows };
  });
}

function leaderOf(statuses: readonly (NodeStatus | undefined)[]): NodeStatus | undefined {
  let leader: NodeStatus | undefined;
  for (const n of statuses) {
    const leading = n && (n.state === "LEADER" || n.state === "TRANSFERRING");
    if (n && leading && (!leader || n.term > leader.term)) leader = n;
  }
  return leader;
}

/** The leader's replicator lag for `peer`, else the difference of last indexes. */
function lagOf(leader: NodeStatus | undefined, n: NodeStatus | undefined, peer: string): number | undefined {
  if (!leader) return undefined;
  if (leader.peerId === peer) return 0;
  const replicator = (leader.replicators ?? []).find((r) => r.peerId === peer);
  if (replicator) return replicator.lag;
  return n ? Math.max(0, leader.lastIndex - n.lastIndex) : undefined;
}

/** This file's functions, as dashboard-html.ts ships them to the browser. */
export const DASHBOARD_VIEW_FUNCTIONS = [esc, endpointOf, membersOf, buildView, leaderOf, lagOf];
