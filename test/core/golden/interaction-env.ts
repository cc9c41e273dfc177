/**
 * The golden harness (etcd's rafttest InteractionEnv): cores wired by per-node inboxes, storage
 * that persists each Ready at once, one virtual clock that moves only when a command says so.
 * Every message, Ready and application is printed, so a change in the message flow shows up in
 * review as a diff of test/core/golden/testdata/*.txt.
 */
import type { LogReader } from "../../../src/core/raft-log.js";
import type { HardState, LogEntry, PeerKey } from "../../../src/core/types.js";
import {
  CoreAdapter,
  type QuiesceRequest,
  type InboundRequest,
  type PeerResponse,
  type Ready,
  type Send,
  type SnapshotMetaData,
} from "./core-adapter.js";
import type { CommandArg, TestCase } from "./datadriven.js";
import { inboundOf, peerResponseOf } from "../wire-between-cores.js";
import { formatConf, formatEntry, formatEvent, formatResponse, formatSend, formatStatus } from "./format.js";

/** A durable log that may start after a snapshot (what LogManager gives the core). */
export class GoldenLog implements LogReader {
  private entries: LogEntry[] = [];
  /** Index and term of the last entry compacted into a snapshot (0/0 without one). */
  private base = { index: 0, term: 0 };

  firstIndex(): number {
    return this.base.index + 1;
  }
  lastIndex(): number {
    return this.base.index + this.entries.length;
  }
  term(index: number): number | undefined {
    if (index === this.base.index) return this.base.term;
    return this.entry(index)?.term;
  }
  entry(index: number): LogEntry | undefined {
    if (index <= this.base.index) return undefined;
    return this.entries[index - this.base.index - 1];
  }
  write(entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    this.entries.length = first.index - this.base.index - 1;
    this.entries.push(...entries);
  }
  /** Drops entries through `index` (a snapshot covers them). */
  compact(index: number): void {
    const term = this.term(index) ?? 0;
    this.entries = this.entries.slice(index - this.base.index);
    this.base = { index, term };
  }
  /** Restarts the log right after a snapshot at (index, term). */
  reset(index: number, term: number): void {
    this.entries = [];
    this.base = { index, term };
  }
}

interface Node {
  readonly id: PeerKey;
  readonly core: CoreAdapter;
  readonly log: GoldenLog;
  hardState: HardState;
  snapshot: SnapshotMetaData | undefined;
  /** What this node's state machine applied. */
  applied: number;
  /** This node's clock: it moves only when a command ticks this node or advances every clock. */
  nowMs: number;
  readonly inbox: Envelope[];
}

/** A message in flight; failures are what a transport reports when a request or its answer is lost. */
type Envelope =
  | {
      readonly kind: "request";
      readonly from: PeerKey;
      readonly to: PeerKey;
      readonly send: Send;
      readonly request: InboundRequest;
    }
  | {
      readonly kind: "response";
      readonly from: PeerKey;
      readonly to: PeerKey;
      readonly send: Send;
      readonly response: PeerResponse;
    }
  | {
      readonly kind: "failure";
      readonly from: PeerKey;
      readonly to: PeerKey;
      readonly send: Send;
      readonly why: string;
    };

interface Route {
  readonly requester: PeerKey;
  readonly responder: PeerKey;
  readonly send: Send;
  readonly request: InboundRequest;
}

const encoder = new TextEncoder();

export class InteractionEnv {
  private readonly nodes = new Map<PeerKey, Node>();
  private readonly cut = new Set<string>();
  /** Processes the liveness calls dead (`dead` / `alive`): quiescence leaves them out. */
  private readonly dead = new Set<PeerKey>();
  private readonly routes = new Map<number, Route>();
  private nextReplyId = 1;
  private nextReadId = 1;
  private quiet = false;
  private out: string[] = [];

  /** Runs one command and returns what it printed. */
  handle(testCase: TestCase): string {
    this.out = [];
    const { command, args } = testCase;
    const ids = args.filter((arg) => arg.values.length === 0 && /^\d+$/.test(arg.key)).map((arg) => arg.key);
    const explicit = this.runCommand(command, args, ids);
    const printed = this.quiet ? [] : this.out;
    return [...printed, ...explicit].join("\n");
  }

  /** Returns lines that print even under `log-level none` (answers the command was asked for). */
  private runCommand(command: string, args: readonly CommandArg[], ids: PeerKey[]): string[] {
    switch (command) {
      case "log-level":
        this.quiet = args[0]?.key === "none";
        return [];
      case "add-nodes":
        return this.addNodes(Number(args[0]?.key), args);
      case "campaign":
        for (const id of ids) this.node(id).core.campaign(this.node(id).nowMs);
        return [];
      case "propose":
        return this.propose(args);
      case "read-index":
        return ids.map((id) => this.readIndex(id));
      case "change-peers":
        return [errorText(this.node(one(ids)).core.changePeers(confArg(args), this.node(one(ids)).nowMs))];
      case "transfer-leader": {
        const to = valueOf(args, "to");
        return [errorText(this.node(one(ids)).core.transferLeadership(to, this.node(one(ids)).nowMs))];
      }
      case "readonly":
        this.node(one(ids)).core.setReadOnly(args[1]?.key === "on");
        return [];
      case "snapshot":
        return ids.map((id) => this.takeSnapshot(this.node(id)));
      case "tick":
        return ids.map((id) => this.tickNow(this.node(id)));
      case "tick-election":
      case "tick-heartbeat":
        return ids.map((id) => this.tickToDeadline(this.node(id)));
      case "advance":
        return [this.advance(Number(valueOf(args, "ms") ?? "0"), ids)];
      case "stabilize":
        this.stabilize(ids.length === 0 ? [...this.nodes.keys()] : ids);
        return [];
      case "process-ready":
        for (const id of ids) this.processReady(this.node(id));
        return [];
      case "deliver-msgs":
        for (const id of ids) this.deliver(this.node(id), valueOf(args, "drop") === "true");
        return [];
      case "partition":
        this.partition(ids);
        return [];
      case "cut":
        this.cutLink(one(ids.slice(0, 1)), one(ids.slice(1)));
        return [];
      case "heal":
        this.cut.clear();
        return [];
      case "dead":
        for (const id of ids) this.dead.add(id);
        return [];
      case "alive":
        for (const id of ids) this.dead.delete(id);
        return [];
      case "wake":
        for (const id of ids) this.node(id).core.wake(this.node(id).nowMs, valueOf(args, "lost") === "true");
        return [];
      case "status":
        return (ids.length === 0 ? [...this.nodes.keys()] : ids).flatMap((id) =>
          formatStatus(id, this.node(id).core.status()),
        );
      case "log":
        return ids.flatMap((id) => this.printLog(this.node(id)));
      default:
        throw new Error(`unknown command ${command}`);
    }
  }

  private addNodes(count: number, args: readonly CommandArg[]): string[] {
    const first = this.nodes.size + 1;
    const created = Array.from({ length: count }, (_, i) => String(first + i));
    const voters = args.find((arg) => arg.key === "voters")?.values ?? created;
    const learners = args.find((arg) => arg.key === "learners")?.values ?? [];
    const conf =
      learners.length === 0 ? { peers: [...voters] } : { peers: [...voters], learners: [...learners] };
    for (const id of created) {
      const log = new GoldenLog();
      const hardState = { term: 0, votedFor: "" };
      const options = {
        self: id,
        conf,
        leaderLeaseEnabled: valueOf(args, "lease") === "true",
        inflightAppendsMax: Number(valueOf(args, "inflight") ?? "4"),
        appendEntriesMax: Number(valueOf(args, "max-entries") ?? "1024"),
        stepDownWhenVoteTimedOut: valueOf(args, "step-down-when-vote-timedout") !== "false",
        catchupMargin: Number(valueOf(args, "catchup-margin") ?? "1000"),
        quiesceIdleMs: Number(valueOf(args, "quiesce") ?? "0"),
        isDead: (peer: PeerKey) => this.dead.has(peer),
      };
      const core = new CoreAdapter(options, hardState, log, 0);
      this.nodes.set(id, { id, core, log, hardState, snapshot: undefined, applied: 0, nowMs: 0, inbox: [] });
    }
    return [`added ${created.join(" ")} with ${formatConf(conf)}`];
  }

  private propose(args: readonly CommandArg[]): string[] {
    const node = this.node(args[0]?.key ?? "");
    const results = args.slice(1).map((arg) => {
      const result = node.core.propose(encoder.encode(arg.key), node.nowMs);
      return "index" in result ? `${result.term}/${result.index}` : `${result.code}: ${result.message}`;
    });
    return [results.join(" ")];
  }

  private readIndex(id: PeerKey): string {
    const readId = this.nextReadId++;
    const node = this.node(id);
    const error = node.core.readIndex(readId, node.nowMs);
    return error === undefined ? `read${readId} accepted` : `read${readId} ${error.code}: ${error.message}`;
  }

  /** Compacts the log through what the state machine applied, as a snapshot save does. */
  private takeSnapshot(node: Node): string {
    const index = node.applied;
    const term = node.log.term(index) ?? 0;
    const meta = { lastIncludedIndex: index, lastIncludedTerm: term, conf: node.core.configurationAt(index) };
    node.snapshot = meta;
    node.log.compact(index);
    return `${node.id}: snapshot ${term}/${index} ${formatConf(meta.conf)}`;
  }

  private tickNow(node: Node): string {
    node.core.tick(node.nowMs);
    return `${node.id}: ticked at ${node.nowMs}ms`;
  }

  /** Moves the node's clock to its next deadline (election, heartbeat, step-down) and ticks. */
  private tickToDeadline(node: Node): string {
    const deadline = node.core.nextDeadlineMs();
    if (deadline === Number.POSITIVE_INFINITY) {
      if (node.core.quiet) return `${node.id}: no deadline (quiet)`;
      throw new Error(`${node.id} has no deadline`);
    }
    node.nowMs = Math.max(node.nowMs, deadline);
    node.core.tick(node.nowMs);
    return `${node.id}: ticked at ${node.nowMs}ms`;
  }

  /** Lets `ms` pass on the clocks of `ids` (every node by default); nothing fires until a tick. */
  private advance(ms: number, ids: readonly PeerKey[]): string {
    const nodes = ids.length === 0 ? [...this.nodes.values()] : ids.map((id) => this.node(id));
    for (const node of nodes) node.nowMs += ms;
    return nodes.map((node) => `${node.id}: ${node.nowMs}ms`).join(", ");
  }

  private stabilize(ids: readonly PeerKey[]): void {
    for (;;) {
      let progressed = false;
      for (const id of ids) progressed = this.processReady(this.node(id)) || progressed;
      for (const id of ids) progressed = this.deliver(this.node(id), false) || progressed;
      if (!progressed) return;
    }
  }

  /** Handles every Ready of `node` as the shell does, then applies what is committed and durable. */
  private processReady(node: Node): boolean {
    const toApply = node.core.commitToApply();
    if (!node.core.hasReady() && toApply <= node.applied) return false;
    this.print(`> ${node.id} handling Ready`);
    while (node.core.hasReady()) this.handleReady(node, node.core.takeReady());
    this.apply(node);
    return true;
  }

  private handleReady(node: Node, ready: Ready): void {
    if (ready.hardState !== undefined) {
      node.hardState = ready.hardState;
      this.print(`  HardState Term:${ready.hardState.term} Vote:${ready.hardState.votedFor || "-"}`);
    }
    if (ready.entries.length > 0) {
      this.print("  Entries:", ...ready.entries.map((entry) => `  ${formatEntry(entry)}`));
      node.log.write(ready.entries);
    }
    this.printSends("  Messages:", node, ready.sendsNow);
    this.printSends("  Messages after persist:", node, ready.sendsAfterPersist);
    if (ready.replies.length > 0) this.print("  Replies after persist:");
    for (const reply of ready.replies) this.routeReply(node, reply);
    if (ready.events.length > 0)
      this.print("  Events:", ...ready.events.map((event) => `  ${formatEvent(event)}`));
    const last = ready.entries.at(-1);
    if (last !== undefined) node.core.onPersisted(last.index, last.term, node.nowMs);
    for (const event of ready.events) {
      if (event.type === "installSnapshot") this.install(node, event.replyId, event.request.meta);
      // As the shell: a leader woken in the same batch sends no Quiesce.
      if (event.type === "quiesced" && node.core.quiet) this.quiesce(node, event.term, event.requests);
    }
  }

  private printSends(title: string, node: Node, sends: readonly Send[]): void {
    if (sends.length === 0) return;
    this.print(title);
    for (const send of sends) {
      const message = this.withSnapshot(node, send);
      this.print(`  ${formatSend(node.id, message.message, send.heartbeat)}`);
      const target = this.nodes.get(send.message.to);
      if (target === undefined) continue;
      const snapshot = node.snapshot && { meta: node.snapshot, uri: `golden://${node.id}` };
      const request = inboundOf(send.message, snapshot);
      if (request === undefined) throw new Error(`${node.id} sends an install without a snapshot`);
      target.inbox.push({ kind: "request", from: node.id, to: target.id, send, request });
    }
  }

  /** The shell fills an install request with the leader's latest snapshot (Replicator). */
  private withSnapshot(node: Node, send: Send): { message: Send["message"] & { request: object } } {
    if (send.message.kind !== "installSnapshot" || node.snapshot === undefined) return send;
    const request = { ...send.message.request, meta: node.snapshot, uri: `golden://${node.id}` };
    return { message: { ...send.message, request } };
  }

  private routeReply(node: Node, reply: Ready["replies"][number]): void {
    const route = this.routes.get(reply.replyId);
    this.routes.delete(reply.replyId);
    if (route === undefined) throw new Error(`${node.id} replied to unknown request ${reply.replyId}`);
    const requester = this.node(route.requester);
    if (reply.kind === "error") {
      this.print(`  ${node.id}->${route.requester} Error ${reply.code}: ${reply.text}`);
      requester.inbox.push({
        kind: "failure",
        from: node.id,
        to: route.requester,
        send: route.send,
        why: reply.code,
      });
      return;
    }
    const response = peerResponseOf(reply, route.request);
    this.print(`  ${formatResponse(node.id, route.requester, route.send.message, response.response)}`);
    requester.inbox.push({
      kind: "response",
      from: node.id,
      to: route.requester,
      send: route.send,
      response,
    });
  }

  /**
   * Delivers a leader's Quiesce messages at once and feeds the answers back (the shell sends them
   * on tsraft's LivenessService); a cut link fails the call.
   */
  private quiesce(node: Node, term: number, requests: readonly QuiesceRequest[]): void {
    for (const request of requests) {
      const target = this.node(request.peerId);
      const lost = this.cut.has(`${node.id}>${target.id}`) || this.cut.has(`${target.id}>${node.id}`);
      const response = lost ? undefined : target.core.stepQuiesce(request, target.nowMs);
      const outcome = response === undefined ? "FAILED" : `Term:${response.term} Success:${response.success}`;
      this.print(
        `  ${node.id}->${target.id} Quiesce Term:${term} Commit:${request.committedIndex} ${outcome}`,
      );
      node.core.onQuiesceAnswer(term, response, node.nowMs);
    }
  }

  /** Loads a snapshot the leader sent: the durable log restarts after it unless it agrees. */
  private install(node: Node, replyId: number, meta: SnapshotMetaData): void {
    const index = meta.lastIncludedIndex;
    const logReset = node.log.term(index) !== meta.lastIncludedTerm;
    if (logReset) node.log.reset(index, meta.lastIncludedTerm);
    else node.log.compact(index);
    node.snapshot = meta;
    node.applied = Math.max(node.applied, index);
    this.print(`  installed snapshot ${meta.lastIncludedTerm}/${index}${logReset ? " (log reset)" : ""}`);
    node.core.finishInstall(replyId, meta, logReset);
  }

  private apply(node: Node): void {
    const toApply = node.core.commitToApply();
    if (toApply <= node.applied) return;
    this.print("  Applying:");
    for (let index = node.applied + 1; index <= toApply; index++) {
      const entry = node.log.entry(index);
      this.print(`  ${entry === undefined ? `?/${index} (compacted)` : formatEntry(entry)}`);
    }
    node.applied = toApply;
    node.core.onApplied(toApply);
  }

  /** Delivers everything waiting for `node`; `drop` loses it all instead (senders see failures). */
  private deliver(node: Node, drop: boolean): boolean {
    if (node.inbox.length === 0) return false;
    this.print(`> ${node.id} receiving messages`);
    const batch = node.inbox.splice(0);
    for (const envelope of batch) this.deliverOne(node, envelope, drop);
    return true;
  }

  private deliverOne(node: Node, envelope: Envelope, drop: boolean): void {
    const { send } = envelope;
    if (envelope.kind === "failure") {
      this.print(`  ${formatSend(node.id, send.message, send.heartbeat)} FAILED (${envelope.why})`);
      node.core.stepFailure(send, node.nowMs);
      return;
    }
    const line =
      envelope.kind === "request"
        ? formatSend(envelope.from, send.message, send.heartbeat)
        : formatResponse(envelope.from, envelope.to, send.message, envelope.response.response);
    const lost = drop || this.cut.has(`${envelope.from}>${envelope.to}`);
    this.print(`  ${line}${lost ? " DROPPED" : ""}`);
    const requester = envelope.kind === "request" ? envelope.from : envelope.to;
    if (lost) {
      const failure = { kind: "failure", from: node.id, to: requester, send, why: "lost" } as const;
      this.node(requester).inbox.push(failure);
      return;
    }
    if (envelope.kind === "response") {
      node.core.stepResponse(send, envelope.response, node.nowMs);
      return;
    }
    const replyId = this.nextReplyId++;
    this.routes.set(replyId, { requester, responder: node.id, send, request: envelope.request });
    node.core.stepRequest(envelope.request, replyId, node.nowMs);
  }

  private partition(group: readonly PeerKey[]): void {
    for (const inside of group) {
      for (const other of this.nodes.keys()) if (!group.includes(other)) this.cutLink(inside, other);
    }
  }

  private cutLink(a: PeerKey, b: PeerKey): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  private printLog(node: Node): string[] {
    const lines = [
      `${node.id}: snapshot=${node.snapshot === undefined ? "-" : `${node.snapshot.lastIncludedTerm}/${node.snapshot.lastIncludedIndex}`} applied=${node.applied}`,
    ];
    for (let index = node.log.firstIndex(); index <= node.log.lastIndex(); index++) {
      const entry = node.log.entry(index);
      if (entry !== undefined) lines.push(`  ${formatEntry(entry)}`);
    }
    return lines;
  }

  private node(id: PeerKey): Node {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private print(...lines: string[]): void {
    this.out.push(...lines);
  }
}

function valueOf(args: readonly CommandArg[], key: string): string | undefined {
  return args.find((arg) => arg.key === key)?.values[0];
}

function one(ids: readonly PeerKey[]): PeerKey {
  const id = ids[0];
  if (id === undefined) throw new Error("a node id is needed");
  return id;
}

function confArg(args: readonly CommandArg[]): { peers: string[]; learners?: string[] } {
  const peers = [...(args.find((arg) => arg.key === "voters")?.values ?? [])];
  const learners = args.find((arg) => arg.key === "learners")?.values;
  return learners === undefined ? { peers } : { peers, learners: [...learners] };
}

function errorText(error: { code: string; message: string } | undefined): string {
  return error === undefined ? "ok" : `${error.code}: ${error.message}`;
}
