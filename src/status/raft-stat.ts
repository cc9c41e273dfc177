/**
 * `/raft_stat`: every node of this server in braft's text layout (NodeImpl::describe and the
 * describe of its LogManager, FSMCaller, BallotBox, SnapshotExecutor and Replicators), one group
 * with `/raft_stat/<group>`, and the same data as JSON with `?format=json`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NodeStatus, ReplicatorStatus, TimerStatus } from "../node/node-status.js";
import type { StatusHost } from "./status-host.js";
import { escapeHtml, parsePageRequest, refuseMethod, sendHtml, sendJson, sendText } from "./http-util.js";

/** Bumped on any incompatible change of {@link RaftStatJson}. */
export const RAFT_STAT_JSON_VERSION = 1;

/** The JSON form of `/raft_stat`: NodeStatus of every node, as `getStatus()` returns it. */
export interface RaftStatJson {
  readonly version: number;
  /** `ip:port` of the server that answered. */
  readonly server: string;
  /** The server's wall clock, milliseconds since the epoch (ages in the statuses are relative to it). */
  readonly time: number;
  readonly nodes: readonly NodeStatus[];
}

/** braft separates lines of raft_stat with CRLF (NodeImpl::describe's plain-text newline). */
const NL = "\r\n";

export function raftStatHandler(host: StatusHost) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (refuseMethod(req, res)) return;
    const request = parsePageRequest(req, "/raft_stat");
    if (request === undefined) return sendText(res, 400, "bad percent-encoding in the path\n");
    const group = request.rest;
    const nodes = host.nodes(group === "" ? undefined : group);
    if (group !== "" && nodes.length === 0) return sendText(res, 404, `no group ${group} on this server\n`);
    const statuses = nodes.map((node) => node.getStatus());
    if (request.json) {
      const body: RaftStatJson = {
        version: RAFT_STAT_JSON_VERSION,
        server: host.address,
        time: Date.now(),
        nodes: statuses,
      };
      return sendJson(res, 200, body);
    }
    // brpc answers browsers with HTML (braft then links every peer to its own raft_stat).
    if ((req.headers.accept ?? "").includes("text/html"))
      return sendHtml(res, 200, renderRaftStatHtml(statuses));
    sendText(res, 200, renderRaftStat(statuses));
  };
}

/** Peer ids as raft_stat prints them: `ip:port:idx`, IPv4 or a bracketed IPv6 address. */
const PEER_ID = /(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]):(\d+):\d+/g;

/** The HTML page: each group under a heading, each node's text with its peers linked to their raft_stat. */
export function renderRaftStatHtml(statuses: readonly NodeStatus[]): string {
  let body = "";
  let previousGroup: string | undefined;
  for (const status of statuses) {
    const group = escapeHtml(status.groupId);
    if (status.groupId !== previousGroup) body += `<h1>${group}</h1>\n`;
    previousGroup = status.groupId;
    const path = `/raft_stat/${escapeHtml(encodeURIComponent(status.groupId))}`;
    const text = escapeHtml(describeNode(status).replaceAll(NL, "\n"));
    body += `<pre>${text.replace(PEER_ID, (peer, host: string, port: string) => `<a href="http://${host}:${port}${path}">${peer}</a>`)}</pre>\n`;
  }
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>raft_stat</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}pre{font-size:13px}</style></head>
<body><p><a href="/">dashboard</a> · <a href="/flags">flags</a></p>
${body}</body></html>
`;
}

/** The text page: `[group]` once per group, then each node's describe and an empty line (braft's layout). */
export function renderRaftStat(statuses: readonly NodeStatus[]): string {
  let out = "";
  let previousGroup: string | undefined;
  for (const status of statuses) {
    if (status.groupId !== previousGroup) out += `[${status.groupId}]${NL}`;
    previousGroup = status.groupId;
    out += describeNode(status) + NL;
  }
  return out;
}

/** One node, field for field as braft's NodeImpl::describe prints it. */
export function describeNode(s: NodeStatus): string {
  const lines: string[] = [
    `peer_id: ${s.peerId}`,
    `state: ${s.state}`,
    `readonly: ${s.readonly ? 1 : 0}`,
    `term: ${s.term}`,
    `conf_index: ${s.confIndex}`,
    `peers:${s.peers.map((p) => ` ${p}`).join("")}`,
  ];
  if (s.learners.length > 0) lines.push(`learners:${s.learners.map((p) => ` ${p}`).join("")}`);
  if (s.state === "LEADER")
    lines.push(`changing_conf: ${s.changingConf ? "YES" : "NO"}    stage: ${s.confStage}`);
  if (s.newPeers.length > 0) lines.push(`new_peers:${s.newPeers.map((p) => ` ${p}`).join("")}`);
  if (s.oldPeers.length > 0) lines.push(`old_peers:${s.oldPeers.map((p) => ` ${p}`).join("")}`);
  if (s.state === "FOLLOWER") {
    lines.push(`leader: ${s.leaderId === "" ? "0.0.0.0:0:0" : s.leaderId}`);
    if (s.lastMsgToNowMs !== undefined) lines.push(`last_msg_to_now: ${s.lastMsgToNowMs}`);
  }
  lines.push(
    `election_timer: ${describeTimer(s.timers.election)}`,
    `vote_timer: ${describeTimer(s.timers.vote)}`,
    `stepdown_timer: ${describeTimer(s.timers.stepdown)}`,
    `snapshot_timer: ${describeTimer(s.timers.snapshot)}`,
    `storage: [${s.firstIndex}, ${s.lastIndex}]`,
    `disk_index: ${s.diskIndex}`,
    `known_applied_index: ${s.appliedIndex}`,
    `last_log_id: (index=${s.lastIndex},term=${s.lastLogTerm})`,
    `state_machine: ${s.stateMachine}`,
    `last_committed_index: ${s.committedIndex}`,
  );
  if (s.pendingApplies > 0)
    lines.push(`pending_index: ${s.pendingIndex}`, `pending_queue_size: ${s.pendingApplies}`);
  lines.push(`last_snapshot_index: ${s.lastSnapshotIndex}`, `last_snapshot_term: ${s.lastSnapshotTerm}`);
  lines.push(`snapshot_status: ${s.snapshotStatus}`);
  if (s.snapshotDownloading !== undefined) {
    const d = s.snapshotDownloading;
    lines.push(
      `downloading_snapshot_meta: last_included_index: ${d.lastIncludedIndex} last_included_term: ${d.lastIncludedTerm}`,
    );
  }
  s.replicators.forEach((r, i) => lines.push(describeReplicator(r, i + 1)));
  return lines.map((line) => line + NL).join("");
}

/** braft's RepeatedTimerTask::describe: `timeout(1000ms) STOPPED` or `timeout(1000ms) SCHEDULING(in 512ms)`. */
function describeTimer(timer: TimerStatus): string {
  const state = timer.running ? ` SCHEDULING(in ${timer.dueInMs ?? 0}ms)` : " STOPPED";
  return `timeout(${timer.timeoutMs}ms)${state}`;
}

/**
 * braft's Replicator::describe, plus what tsraft's leader knows beyond it (match index, lag,
 * send and answer ages). braft numbers replicators by bthread id; tsraft by position.
 */
function describeReplicator(r: ReplicatorStatus, ordinal: number): string {
  const parts = [
    `replicator_${ordinal}@${r.peerId}:`,
    `next_index=${r.nextIndex} `,
    `flying_append_entries_size=${r.inflightAppends}`,
    r.state,
    `match_index=${r.matchIndex}`,
    `lag=${r.lag}`,
    `last_rpc_send=${age(r.lastRpcSendAgeMs)}`,
    `last_heartbeat_send=${age(r.lastHeartbeatSendAgeMs)}`,
    `last_response=${age(r.lastResponseAgeMs)}`,
  ];
  if (r.consecutiveFailures !== 0) parts.push(`consecutive_error_times=${r.consecutiveFailures}`);
  parts.push(`hc=${r.heartbeatCount} ac=${r.appendEntriesCount} ic=${r.installSnapshotCount}`);
  return parts.join(" ");
}

function age(ms: number | undefined): string {
  return ms === undefined ? "never" : `${ms}ms_ago`;
}
