/**
 * A tsraft server process for the real-process tests: one RaftServer on `--port`, one RaftNode per
 * group in `--groups`, local:// storage under `--data`. It serves a small test service on the same
 * port: `apply` (body: "<group>\n<value>"), `dump` (body: "<group>") and `summary` (how many
 * groups lead here and how many are quiet), answering in JSON.
 * Prints "READY <port>" once every node is up. `--snapshot` gives the nodes snapshot storage (the
 * state machine saves what it applied); `--disable-cli` starts them with NodeOptions.disableCli;
 * `--merged-meta` keeps every node's raft meta in one `local-merged://` file (many groups).
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { getHeapStatistics, writeHeapSnapshot } from "node:v8";
import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  RaftError,
  RaftNode,
  RaftServer,
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    peers: { type: "string" },
    voters: { type: "string" },
    groups: { type: "string", default: "g1" },
    data: { type: "string" },
    "election-ms": { type: "string", default: "300" },
    snapshot: { type: "boolean", default: false },
    "disable-cli": { type: "boolean", default: false },
    "merged-meta": { type: "boolean", default: false },
    // "off": the server does not serve tsraft's LivenessService, so no group quiesces.
    quiescence: { type: "string", default: "on" },
  },
});

class Recorder implements StateMachine {
  readonly applied: string[] = [];
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.applied.push(new TextDecoder().decode(entry.data));
      entry.done?.setResult?.(this.applied.length);
    }
  }
  onSnapshotSave(writer: SnapshotWriter, done: Closure): void {
    writeFileSync(join(writer.path, "applied"), JSON.stringify(this.applied));
    writer.addFile("applied");
    done.run(Status.OK());
  }
  onSnapshotLoad(reader: SnapshotReader): void {
    this.applied.splice(
      0,
      Infinity,
      ...(JSON.parse(readFileSync(join(reader.path, "applied"), "utf8")) as string[]),
    );
  }
}

/** Nodes initialized at once (see main). */
const INIT_CONCURRENCY = 32;

const encoder = new TextEncoder();
const reply = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

async function main(): Promise<void> {
  const port = Number(values.port);
  const server = new RaftServer({ quiescence: values.quiescence !== "off" });
  await server.start(`127.0.0.1:${port}`);
  const members = new Map<string, { node: RaftNode; fsm: Recorder }>();
  const initOne = async (group: string): Promise<void> => {
    const fsm = new Recorder();
    const node = new RaftNode(group, `127.0.0.1:${port}:0`);
    await node.init({
      fsm,
      server,
      initialConf: values.voters ?? values.peers,
      electionTimeoutMs: Number(values["election-ms"]),
      logUri: `local://${values.data}/${group}/log`,
      // One merged meta file for all groups batches their vote writes (docs/storage.md).
      raftMetaUri:
        values["merged-meta"] === true
          ? `local-merged://${values.data}/meta`
          : `local://${values.data}/${group}/raft_meta`,
      ...(values.snapshot === true ? { snapshotUri: `local://${values.data}/${group}/snapshot` } : {}),
      disableCli: values["disable-cli"] === true,
    });
    members.set(group, { node, fsm });
  };
  // Groups start INIT_CONCURRENCY at a time: each init waits on a few fsyncs, and the fsyncs of
  // different groups overlap on the disk, so 1,000 groups one after another would take 40 s.
  const pending = (values.groups ?? "g1").split(",");
  const worker = async (): Promise<void> => {
    for (let group = pending.shift(); group !== undefined; group = pending.shift()) await initOne(group);
  };
  await Promise.all(Array.from({ length: INIT_CONCURRENCY }, worker));
  const memberOf = (group: string) => {
    const member = members.get(group);
    if (member === undefined) throw new RaftError("ENOENT", `no group ${group}`);
    return member;
  };
  server.addMethod("tsraft.test.TestService", "apply", async (body) => {
    const [group = "", value = ""] = new TextDecoder().decode(body).split("\n");
    try {
      const result = await memberOf(group).node.apply(encoder.encode(value));
      return reply({ ok: true, index: result.index });
    } catch (error) {
      const e = error as RaftError;
      return reply({ ok: false, code: e.code, leaderId: e.leaderId ?? null });
    }
  });
  server.addMethod("tsraft.test.TestService", "change", async (body) => {
    const [group = "", op = "", peer = ""] = new TextDecoder().decode(body).split("\n");
    const { node } = memberOf(group);
    try {
      await (op === "add" ? node.addPeer(peer) : node.removePeer(peer));
      return reply({ ok: true });
    } catch (error) {
      return reply({ ok: false, code: (error as RaftError).code });
    }
  });
  server.addMethod("tsraft.test.TestService", "dump", (body) => {
    const { node, fsm } = memberOf(new TextDecoder().decode(body));
    const status = node.getStatus();
    return reply({
      applied: fsm.applied,
      leader: status.leaderId,
      state: status.state,
      term: status.term,
      peers: status.peers,
      learners: status.learners,
      lastSnapshotIndex: status.lastSnapshotIndex,
    });
  });
  // How many groups lead here and how many are quiet (docs/quiescence.md), in one call.
  server.addMethod("tsraft.test.TestService", "summary", () => {
    const statuses = [...members.values()].map((m) => m.node.getStatus());
    return reply({
      groups: statuses.length,
      leading: statuses.filter((s) => s.state === "LEADER").length,
      quiet: statuses.filter((s) => s.quiet).length,
    });
  });
  // The groups led here with their terms (the bench's re-election timing), in one call.
  server.addMethod("tsraft.test.TestService", "leaders", () =>
    reply(
      [...members].filter(([, m]) => m.node.isLeader()).map(([group, m]) => ({ group, term: m.node.term })),
    ),
  );
  // The process's memory after a full GC when --expose-gc is on (bench/group-memory.ts): body
  // "snapshot:<path>" also writes a heap snapshot there.
  server.addMethod("tsraft.test.TestService", "memory", (body) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const path = new TextDecoder().decode(body);
    if (path.startsWith("snapshot:")) writeHeapSnapshot(path.slice("snapshot:".length));
    return reply({
      ...process.memoryUsage(),
      heapLimit: getHeapStatistics().heap_size_limit,
      fds: readdirSync("/proc/self/fd").length,
      // Armed timers of the whole process: quiet groups must arm none (docs/quiescence.md).
      timers: process.getActiveResourcesInfo().filter((r) => r === "Timeout").length,
      gc: gc !== undefined,
    });
  });
  process.on("SIGTERM", () => {
    void Promise.all([...members.values()].map((m) => m.node.shutdown()))
      .then(() => server.stop())
      .then(() => process.exit(0));
  });
  console.log(`READY ${port}`);
}

await main();
