/** Shared pieces of the rpc tests: a fake RaftService, servers on 127.0.0.1:0, polling. */
import { readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { AppendEntriesRequest, RequestVoteRequest, TimeoutNowRequest } from "../../src/core/messages.js";
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";
import { RaftServer } from "../../src/server.js";
import type { RaftServerOptions } from "../../src/rpc/options.js";
import type { InstallSnapshotRequest } from "../../src/core/messages.js";
import type { RaftService } from "../../src/node/ports.js";
import { pollUntil } from "../support/poll.js";

/** Sums the first byte of each entry; its snapshot is one file, `value`, holding the sum. */
export class SnapshotCounter implements StateMachine {
  value = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) this.value += entry.data[0] ?? 0;
  }
  onSnapshotSave(writer: SnapshotWriter, done: Closure): void {
    writeFileSync(join(writer.path, "value"), String(this.value));
    writer.addFile("value");
    done.run(Status.OK());
  }
  onSnapshotLoad(reader: SnapshotReader): void {
    this.value = Number(readFileSync(join(reader.path, "value"), "utf8"));
  }
}

/** A RaftService that records requests and answers from overridable functions. */
export class FakeRaftService implements RaftService {
  readonly votes: RequestVoteRequest[] = [];
  readonly appends: AppendEntriesRequest[] = [];
  readonly timeoutNows: TimeoutNowRequest[] = [];
  readonly snapshots: InstallSnapshotRequest[] = [];
  term = 7;

  constructor(private readonly overrides: Partial<RaftService> = {}) {}

  requestVote(request: RequestVoteRequest) {
    this.votes.push(request);
    if (this.overrides.requestVote) return this.overrides.requestVote(request);
    return Promise.resolve({ term: this.term, granted: true, rejectedByLease: false });
  }

  appendEntries(request: AppendEntriesRequest) {
    this.appends.push(request);
    if (this.overrides.appendEntries) return this.overrides.appendEntries(request);
    const lastLogIndex = request.prevLogIndex + request.entries.length;
    return Promise.resolve({ term: this.term, success: true, lastLogIndex, readonly: false });
  }

  timeoutNow(request: TimeoutNowRequest) {
    this.timeoutNows.push(request);
    if (this.overrides.timeoutNow) return this.overrides.timeoutNow(request);
    return Promise.resolve({ term: this.term + 1, success: true });
  }

  installSnapshot(request: InstallSnapshotRequest) {
    this.snapshots.push(request);
    return Promise.resolve({ term: this.term, success: true });
  }
}

/** Started servers, stopped by {@link stopAll} in an after() hook. */
const started: RaftServer[] = [];

/** A RaftServer on `addr` (default: a free port of 127.0.0.1), stopped after the file's tests. */
export async function startServer(
  options: RaftServerOptions = {},
  addr: string = "127.0.0.1:0",
): Promise<RaftServer> {
  const server = new RaftServer(options);
  await server.start(addr);
  started.push(server);
  return server;
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((server) => server.stop()));
}

/** The peer id of node `idx` on `server`. */
export function peerOn(server: RaftServer, idx = 0): string {
  return `${server.address}:${idx}`;
}

/** Polls `check` every few ms until it is true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  await pollUntil(what, check, { timeoutMs });
}

/** A raw TCP connection to `address` ("ip:port"), connected. */
export async function rawConnect(address: string): Promise<Socket> {
  const colon = address.lastIndexOf(":");
  const socket = connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
  socket.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return socket;
}

/** Resolves when `socket` closes (reading it, or the peer's FIN would never be seen). */
export function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  socket.resume();
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

/** A vote request from node 1 to `peerId`. */
export function voteRequest(groupId: string, peerId: string, preVote = false): RequestVoteRequest {
  return {
    groupId,
    serverId: "127.0.0.1:1:0",
    peerId,
    term: 3,
    lastLogTerm: 2,
    lastLogIndex: 10,
    preVote,
  };
}

/** A small deterministic PRNG (mulberry32) so a failing fuzz run replays from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
