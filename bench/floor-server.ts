/**
 * The floor of a Node counter cluster (issue 18): three processes that do the least any Node
 * implementation of a replicated counter must do per write, and nothing else. The leader (the
 * first peer of `--conf`) reads example.CounterService.fetch_add over baidu_std, forwards the
 * request bytes of each read to both followers, writes and fsyncs them to its own file, and
 * answers once a follower has written and fsynced them too: a majority holds every answered write.
 * No terms, no elections, no log index, no entry encoding, no apply queue, no protobuf objects.
 *
 * Measured with the same clients as braft and tsraft (bench/side-by-side.ts, side `floor`), it
 * tells what the machine leaves for a Node process: a ratio to braft the floor does not reach, no
 * Node implementation on this machine reaches. It also answers braft.CliService.get_leader (so
 * braft's counter_client finds the leader) and GET /raft_stat (so the bench finds it too).
 *
 *   node dist/bench/floor-server.js --port=P --conf=127.0.0.1:P0:0,... --data_path=./data
 */
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync, writevSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeCounterAnswer, fetchAddValueOf } from "../examples/counter/counter-wire.js";
import { decodeFrame, encodeResponse } from "../src/rpc/baidu-std.js";
import { FrameParser, startsWithMagic } from "../src/rpc/frame.js";
import { GetLeaderResponseSchema } from "../src/rpc/gen/braft/cli_pb.js";

/** The first bytes of the leader's stream to a follower (a follower's port also serves clients). */
const REPLICATION_MAGIC = Buffer.from("FLOR");
/** A forwarded batch: u32 bytes after this header, u32 batch id, then the requests' bytes. */
const BATCH_HEADER_BYTES = 8;

interface Args {
  readonly port: number;
  readonly peers: readonly number[];
  readonly dataPath: string;
}

function parseArgs(argv: readonly string[]): Args {
  const value = (name: string): string => {
    const arg = argv.find((a) => a.startsWith(`--${name}=`));
    if (arg === undefined) throw new Error(`--${name}= is required`);
    return arg.slice(name.length + 3);
  };
  const peers = value("conf")
    .split(",")
    .map((peer) => Number(peer.split(":")[1]));
  return { port: Number(value("port")), peers, dataPath: value("data_path") };
}

/** An append-only file written and fsynced inline, as tsraft's log does on a quiet process. */
class SyncedFile {
  private readonly fd: number;
  private position = 0;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  append(parts: readonly Uint8Array[], bytes: number): void {
    let done = writevSync(this.fd, parts as Uint8Array[], this.position);
    if (done < bytes) {
      const all = Buffer.concat(parts as Uint8Array[]);
      while (done < bytes) done += writeSync(this.fd, all, done, bytes - done, this.position + done);
    }
    this.position += bytes;
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** One fetch_add waiting for its batch to be durable on a majority. */
interface PendingWrite {
  readonly socket: Socket;
  readonly correlationId: bigint;
  readonly request: Uint8Array;
}

class Leader {
  private readonly followers: Socket[] = [];
  /** Batches forwarded, in id order, not yet acknowledged by a follower. */
  private readonly batches: { id: number; writes: PendingWrite[] }[] = [];
  private nextBatchId = 1;
  private value = 0n;
  committed = 0;

  constructor(
    private readonly file: SyncedFile,
    private readonly followerPorts: readonly number[],
  ) {
    for (const port of followerPorts) this.connectFollower(port);
  }

  /** Both followers are connected: only then does /raft_stat name this process the leader. */
  get ready(): boolean {
    return this.followers.length === this.followerPorts.length;
  }

  /** Forwards one read's writes, makes them durable here, and answers them once a follower has too. */
  propose(writes: PendingWrite[]): void {
    const id = this.nextBatchId++;
    const parts = writes.map((w) => w.request);
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    const header = Buffer.allocUnsafe(BATCH_HEADER_BYTES);
    header.writeUInt32BE(bytes + 4, 0);
    header.writeUInt32BE(id, 4);
    const frame = Buffer.concat([header, ...parts]);
    for (const follower of this.followers) follower.write(frame);
    this.batches.push({ id, writes });
    this.file.append(parts, bytes);
  }

  /**
   * A follower holds every batch through `id`: answer them. The leader holds them too: its own
   * write + fsync of a batch runs inline in `propose`, before any acknowledgement can be read.
   */
  private acknowledged(id: number): void {
    const corked = new Set<Socket>();
    while (this.batches.length > 0 && (this.batches[0]?.id ?? Infinity) <= id) {
      const batch = this.batches.shift();
      for (const write of batch?.writes ?? []) {
        if (!corked.has(write.socket)) {
          corked.add(write.socket);
          write.socket.cork();
        }
        const before = this.value;
        this.value += fetchAddValueOf(write.request);
        this.committed++;
        respond(write.socket, write.correlationId, encodeCounterAnswer({ success: true, value: before }));
      }
    }
    for (const socket of corked) socket.uncork();
  }

  private connectFollower(port: number): void {
    const socket = connect({ port, host: "127.0.0.1", noDelay: true });
    let acked = 0;
    let pending: Buffer = Buffer.alloc(0);
    socket.on("connect", () => {
      socket.write(REPLICATION_MAGIC);
      this.followers.push(socket);
    });
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let offset = 0;
      for (; pending.length - offset >= 4; offset += 4) acked = Math.max(acked, pending.readUInt32BE(offset));
      pending = pending.subarray(offset);
      this.acknowledged(acked);
    });
    socket.on("error", () => {
      // A lost follower ends the floor (the bench reports the exit); one not up yet is retried.
      if (this.followers.includes(socket)) throw new Error(`follower on ${port} lost`);
      setTimeout(() => this.connectFollower(port), 20);
    });
  }
}

/** Writes a baidu_std response frame. */
function respond(socket: Socket, correlationId: bigint, message: Uint8Array): void {
  socket.write(Buffer.concat(encodeResponse({ correlationId, message })));
}

/** A client connection: fetch_add on the leader, get_leader everywhere. */
function serveClient(
  socket: Socket,
  first: Buffer,
  leaderAnswer: Uint8Array,
  leader: Leader | undefined,
): void {
  const parser = new FrameParser();
  const onData = (chunk: Buffer): void => {
    const writes: PendingWrite[] = [];
    try {
      for (const { meta, message } of parser.push(chunk).map(decodeFrame)) {
        const method = meta.request?.methodName;
        if (method === "fetch_add" && leader !== undefined) {
          writes.push({ socket, correlationId: meta.correlationId, request: new Uint8Array(message) });
        } else if (method === "get_leader") {
          respond(socket, meta.correlationId, leaderAnswer);
        } else throw new Error(`the floor does not serve ${method ?? "responses"}`);
      }
    } catch {
      socket.destroy(); // a malformed frame or a call the floor does not serve: this connection ends
      return;
    }
    if (writes.length > 0) leader?.propose(writes);
  };
  socket.on("data", onData);
  onData(first);
}

/** The leader's stream on a follower: write and fsync each read's batches, then acknowledge the last. */
function serveReplication(socket: Socket, first: Buffer, file: SyncedFile): void {
  let pending: Buffer = first.subarray(REPLICATION_MAGIC.length);
  const onData = (): void => {
    const parts: Uint8Array[] = [];
    let bytes = 0;
    let lastId = 0;
    let offset = 0;
    while (pending.length - offset >= BATCH_HEADER_BYTES) {
      const length = pending.readUInt32BE(offset);
      if (pending.length - offset - 4 < length) break;
      lastId = pending.readUInt32BE(offset + 4);
      const body = pending.subarray(offset + BATCH_HEADER_BYTES, offset + 4 + length);
      parts.push(body);
      bytes += body.length;
      offset += 4 + length;
    }
    pending = pending.subarray(offset);
    if (lastId === 0) return;
    file.append(parts, bytes);
    const ack = Buffer.allocUnsafe(4);
    ack.writeUInt32BE(lastId, 0);
    socket.write(ack);
  };
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    onData();
  });
  onData();
}

function raftStat(args: Args, leader: Leader | undefined): string {
  const leaderId = `127.0.0.1:${args.peers[0]}:0`;
  return (
    `[Counter]\nstate: ${leader?.ready === true ? "LEADER" : "FOLLOWER"}\nleader: ${leaderId}\n` +
    `last_committed_index: ${leader?.committed ?? 0}\n`
  );
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.dataPath, { recursive: true });
  const file = new SyncedFile(join(args.dataPath, "floor.log"));
  const isLeader = args.port === args.peers[0];
  const leaderAnswer = toBinary(
    GetLeaderResponseSchema,
    create(GetLeaderResponseSchema, { leaderId: `127.0.0.1:${args.peers[0]}:0` }),
  );
  const leader = isLeader ? new Leader(file, args.peers.slice(1)) : undefined;
  const http = createHttpServer((_req, res) => res.end(raftStat(args, leader)));
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.once("data", (first: Buffer) => {
      if (first.subarray(0, 4).equals(REPLICATION_MAGIC)) serveReplication(socket, first, file);
      else if (startsWithMagic(first)) serveClient(socket, first, leaderAnswer, leader);
      else {
        socket.unshift(first);
        http.emit("connection", socket);
      }
    });
  });
  server.listen(args.port, "127.0.0.1");
  process.on("SIGTERM", () => {
    file.close();
    process.exit(0);
  });
}

main();
