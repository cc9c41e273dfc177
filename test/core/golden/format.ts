/**
 * How the golden files print messages, entries, events and status: one stable line per thing,
 * in etcd's spirit (`1->2 App Term:1 Log:1/2 Commit:2 Entries:[...]`; log positions as term/index).
 */
import type { CoreEvent } from "../../../src/core/events.js";
import type { OutboundRequest } from "../../../src/core/messages.js";
import { EntryType, type ConfigurationData, type LogEntry, type PeerKey } from "../../../src/core/types.js";
import type { ResponseBody, StatusView } from "./core-adapter.js";

const decoder = new TextDecoder();

export function formatConf(conf: ConfigurationData): string {
  let text = `voters=(${conf.peers.join(" ")})`;
  if (conf.oldPeers !== undefined && conf.oldPeers.length > 0) text += `&&(${conf.oldPeers.join(" ")})`;
  if (conf.learners !== undefined && conf.learners.length > 0)
    text += ` learners=(${conf.learners.join(" ")})`;
  return text;
}

export function formatEntry(entry: LogEntry): string {
  const id = `${entry.term}/${entry.index}`;
  switch (entry.type) {
    case EntryType.DATA:
      return `${id} DATA ${JSON.stringify(decoder.decode(entry.data))}`;
    case EntryType.CONFIGURATION:
      return `${id} CONF ${entry.conf === undefined ? "?" : formatConf(entry.conf)}`;
    case EntryType.NO_OP:
      return `${id} NOOP`;
    default:
      return `${id} UNKNOWN`;
  }
}

/** A request as it travels from `from` (the core's own id) to its target. */
export function formatRequest(from: PeerKey, message: OutboundRequest): string {
  const head = `${from}->${message.to}`;
  switch (message.kind) {
    case "vote": {
      const r = message.request;
      const disrupted =
        r.disruptedLeader === undefined
          ? ""
          : ` Disrupted:${r.disruptedLeader.peerId}@${r.disruptedLeader.term}`;
      return `${head} ${r.preVote ? "PreVote" : "Vote"} Term:${r.term} Log:${r.lastLogTerm}/${r.lastLogIndex}${disrupted}`;
    }
    case "append": {
      const r = message.request;
      const entries = r.entries.length === 0 ? "" : ` Entries:[${r.entries.map(formatEntry).join(", ")}]`;
      return `${head} App Term:${r.term} Log:${r.prevLogTerm}/${r.prevLogIndex} Commit:${r.committedIndex}${entries}`;
    }
    case "timeoutNow": {
      const r = message.request;
      return `${head} TimeoutNow Term:${r.term}${r.oldLeaderSteppedDown === true ? " SteppedDown" : ""}`;
    }
    case "installSnapshot":
      return `${head} InstallSnapshot Term:${message.request.term}`;
  }
}

/** A request line, marking heartbeats (an append the leader sends on its timer). */
export function formatSend(from: PeerKey, message: OutboundRequest, heartbeat: boolean): string {
  const line = formatRequest(from, message);
  return heartbeat ? line.replace(" App ", " Heartbeat ") : line;
}

/** A response from `from` to `to`; `request` names what it answers. */
export function formatResponse(
  from: PeerKey,
  to: PeerKey,
  request: OutboundRequest,
  body: ResponseBody,
): string {
  const head = `${from}->${to}`;
  const outcome = "success" in body ? (body.success ? " Success" : " Reject") : "";
  switch (request.kind) {
    case "vote": {
      const name = request.request.preVote ? "PreVoteResp" : "VoteResp";
      if (!("granted" in body)) return `${head} ${name} Term:${body.term} ?`;
      const v = body;
      const flags = [
        v.granted ? "Granted" : "Rejected",
        v.rejectedByLease === true ? "ByLease" : "",
        v.disrupted === true ? "Disrupted" : "",
        v.previousTerm === undefined ? "" : `Prev:${v.previousTerm}`,
      ].filter((flag) => flag !== "");
      return `${head} ${name} Term:${body.term} ${flags.join(" ")}`;
    }
    case "append": {
      const last = "lastLogIndex" in body ? body.lastLogIndex : "?";
      const readonly = "readonly" in body && body.readonly === true ? " ReadOnly" : "";
      return `${head} AppResp Term:${body.term}${outcome} Last:${last}${readonly}`;
    }
    case "timeoutNow":
      return `${head} TimeoutNowResp Term:${body.term}${outcome}`;
    case "installSnapshot":
      return `${head} InstallSnapshotResp Term:${body.term}${outcome}`;
  }
}

export function formatEvent(event: CoreEvent): string {
  switch (event.type) {
    case "roleChanged":
      return `role ${event.role} term=${event.term}`;
    case "electionStarted":
      return `${event.preVote ? "preVote" : "election"} started term=${event.term}`;
    case "leaderStart":
      return `leaderStart term=${event.term} confIndex=${event.confIndex}`;
    case "leaderStop":
      return `leaderStop term=${event.term} (${event.reason})`;
    case "startFollowing":
      return `startFollowing leader=${event.leaderId} term=${event.term}`;
    case "stopFollowing":
      return `stopFollowing leader=${event.leaderId} term=${event.term} (${event.reason})`;
    case "installSnapshot":
      return `installSnapshot from=${event.request.serverId} snapshot=${event.request.meta.lastIncludedTerm}/${event.request.meta.lastIncludedIndex}`;
    case "readIndexReady":
      return `readIndexReady ${event.reads.map((read) => `read${read.id}@${read.index}`).join(" ")}`;
    case "changeDone":
      return `changeDone ${event.error === undefined ? "ok" : `${event.error.code}: ${event.error.message}`}`;
    case "transferStarted":
      return `transferStarted term=${event.term} target=${event.target}`;
    case "leaderResumed":
      return `leaderResumed term=${event.term}`;
    case "transferEnded":
      return `transferEnded ${event.succeeded ? "succeeded" : "failed"} (${event.reason})`;
    case "readIndexFailed":
      return `readIndexFailed ${event.ids.map((id) => `read${id}`).join(" ")} (${event.reason})`;
    case "quiesced":
      return `quiesced leader=${event.leaderId} term=${event.term}`;
    case "woke":
      return `woke term=${event.term}`;
  }
}

/** One line of role and log positions, then (on a leader) one line per follower. */
export function formatStatus(id: PeerKey, status: StatusView): string[] {
  const flags = [
    status.readonly ? " readonly" : "",
    status.quiet ? " quiet" : "",
    status.changeStage === undefined ? "" : ` change=${status.changeStage}`,
    status.transferTarget === undefined ? "" : ` transfer=${status.transferTarget}`,
  ].join("");
  const lines = [
    `${id}: ${status.role} term=${status.term} vote=${status.votedFor || "-"} leader=${status.leaderId || "-"} ` +
      `log=${status.firstIndex}..${status.lastIndex} commit=${status.commit} applied=${status.applied} ` +
      `persisted=${status.persisted} ${formatConf(status.conf)}${flags}`,
  ];
  for (const p of status.progress) {
    lines.push(`  ${p.peer}: ${p.state} match=${p.match} next=${p.next} inflight=${p.inflight}`);
  }
  return lines;
}
