/**
 * A test bench for the pure core: several RaftCores wired by a synchronous message bus, with
 * storage that persists each Ready instantly. Time only moves when a test says so.
 */
import { ConfigurationManager } from "../../src/core/configuration.js";
import type { Ready, Send } from "../../src/core/events.js";
import type { InboundRequest } from "../../src/core/messages.js";
import { RaftCore } from "../../src/core/raft.js";
import type { LogReader } from "../../src/core/raft-log.js";
import type { HardState, LogEntry, PeerKey } from "../../src/core/types.js";
import { inboundOf, peerResponseOf } from "./wire-between-cores.js";

export class MemoryLog implements LogReader {
  entries: LogEntry[] = [];
  firstIndex(): number {
    return 1;
  }
  lastIndex(): number {
    return this.entries.length;
  }
  term(index: number): number | undefined {
    if (index === 0) return 0;
    return this.entries[index - 1]?.term;
  }
  entry(index: number): LogEntry | undefined {
    return this.entries[index - 1];
  }
  write(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.entries.length = (entries[0] as LogEntry).index - 1;
    this.entries.push(...entries);
  }
}

export interface Member {
  core: RaftCore;
  log: MemoryLog;
  hardState: HardState;
}

interface InFlight {
  from: PeerKey;
  send: Send;
}

interface ReplyRoute extends InFlight {
  request: InboundRequest;
}

export class CoreCluster {
  nowMs = 0;
  readonly members = new Map<PeerKey, Member>();
  /** Links cut: "a>b" drops everything from a to b. */
  readonly cut = new Set<string>();
  /** Drops a request when it returns true (finer than cutting a link). */
  drop: (from: PeerKey, send: Send) => boolean = () => false;
  private replyRoutes = new Map<string, ReplyRoute>();
  private queue: InFlight[] = [];
  private nextReplyId = 1;
  private randomState = 1;

  constructor(
    peers: PeerKey[],
    options: { leaderLeaseEnabled?: boolean; inflightAppendsMax?: number; appendEntriesMax?: number } = {},
  ) {
    for (const peer of peers) {
      const log = new MemoryLog();
      const confs = new ConfigurationManager({
        id: { index: 0, term: 0 },
        conf: { peers: [...peers].sort() },
      });
      const hardState = { term: 0, votedFor: "" };
      const core = new RaftCore(
        {
          groupId: "g",
          self: peer,
          electionTimeoutMs: 1000,
          maxElectionDelayMs: 1000,
          heartbeatIntervalMs: 100,
          maxClockDriftMs: 1000,
          leaderLeaseEnabled: options.leaderLeaseEnabled ?? false,
          stepDownWhenVoteTimedOut: true,
          inflightAppendsMax: options.inflightAppendsMax ?? 4,
          appendEntriesMax: options.appendEntriesMax ?? 1024,
          appendBytesMax: 1 << 20,
          catchupMargin: 1000,
          catchupTimeoutMs: 0,
          random: () => this.random(),
        },
        hardState,
        log,
        confs,
        this.nowMs,
      );
      this.members.set(peer, { core, log, hardState });
    }
  }

  member(peer: PeerKey): Member {
    const member = this.members.get(peer);
    if (member === undefined) throw new Error(`no member ${peer}`);
    return member;
  }

  core(peer: PeerKey): RaftCore {
    return this.member(peer).core;
  }

  leaders(): PeerKey[] {
    return [...this.members].filter(([, m]) => m.core.role === "leader").map(([p]) => p);
  }

  isolate(peer: PeerKey): void {
    for (const other of this.members.keys()) {
      if (other === peer) continue;
      this.cut.add(`${peer}>${other}`);
      this.cut.add(`${other}>${peer}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Starts an election on `peer` as if its timer fired, and lets everything settle. */
  campaign(peer: PeerKey): void {
    this.core(peer).campaign(this.nowMs);
    this.settle();
  }

  /** Advances time by `ms` in steps of `stepMs`, ticking every core and settling after each step. */
  advance(ms: number, stepMs = 10): void {
    for (let t = 0; t < ms; t += stepMs) {
      this.nowMs += stepMs;
      for (const { core } of this.members.values()) core.tick(this.nowMs);
      this.settle();
    }
  }

  /** Delivers messages until no core has anything left to say. */
  settle(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.collect();
      const batch = this.queue;
      this.queue = [];
      if (batch.length === 0) return;
      for (const item of batch) this.deliver(item);
    }
    throw new Error("cluster did not settle");
  }

  private collect(): void {
    while ([...this.members.values()].some((m) => m.core.hasReady())) this.collectOnce();
  }

  private collectOnce(): void {
    for (const [peer, member] of this.members) {
      while (member.core.hasReady()) {
        const ready = member.core.takeReady();
        if (ready.hardState !== undefined) member.hardState = ready.hardState;
        member.log.write(ready.entries);
        const last = ready.entries.at(-1);
        if (last !== undefined) member.core.onPersisted(last.index, last.term, this.nowMs);
        for (const send of [...ready.sendsNow, ...ready.sendsAfterPersist])
          this.queue.push({ from: peer, send });
        for (const reply of ready.replies) this.routeReply(reply.replyId, reply);
      }
    }
  }

  private deliver({ from, send }: InFlight): void {
    const to = send.message.to;
    const target = this.members.get(to);
    // This bench keeps no snapshots, so an install request fails as an unreachable peer does.
    const request = inboundOf(send.message);
    if (
      target === undefined ||
      request === undefined ||
      this.cut.has(`${from}>${to}`) ||
      this.drop(from, send)
    ) {
      // What a transport reports once its timeout fires.
      this.member(from).core.stepResponse({ kind: "failure", send }, this.nowMs);
      return;
    }
    const replyId = this.nextReplyId++;
    this.replyRoutes.set(String(replyId), { from, send, request });
    target.core.stepRequest(request, replyId, this.nowMs);
  }

  private routeReply(replyId: number, reply: Ready["replies"][number]): void {
    const route = this.replyRoutes.get(String(replyId));
    this.replyRoutes.delete(String(replyId));
    if (route === undefined || reply.kind === "error") return;
    const to = route.send.message.to;
    if (this.cut.has(`${to}>${route.from}`)) return;
    const response = peerResponseOf(reply, route.request);
    this.member(route.from).core.stepResponse({ kind: "response", send: route.send, response }, this.nowMs);
  }

  private random(): number {
    // A fixed LCG: tests must not depend on Math.random.
    this.randomState = (this.randomState * 48271) % 2147483647;
    return this.randomState / 2147483647;
  }
}
