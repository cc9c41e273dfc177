/**
 * One node of the kv example: a RaftServer (raft RPCs, the CLI service, status pages and the kv
 * HTTP API on one port), a RaftNode of group "kv", and the KvStateMachine, all stored under
 * `--data-dir`.
 *
 *   node dist/examples/kv/server.js --data-dir=./data/kv/n1 --bootstrap          # a new cluster
 *   node dist/examples/kv/server.js --data-dir=./data/kv/n2 --join=http://127.0.0.1:8200
 *   node dist/examples/kv/server.js --data-dir=./data/kv/n1                      # restart
 *
 * `--listen` defaults to 127.0.0.1:0: the system picks a free port, so no two starts race for
 * one. The address is then recorded in `<data-dir>/node.json` and a restart listens there again
 * (a peer's id is its address). It prints `ready http://<ip:port> peer=<id> pid=<pid>` once it
 * serves, and `joined` when a `--join` succeeded.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { RaftError, RaftNode, RaftServer } from "../../src/index.js";
import { joinCluster } from "./join.js";
import { registerKvRoutes } from "./kv-http.js";
import { KvStateMachine } from "./kv-state-machine.js";

/** The group every kv node belongs to. */
export const KV_GROUP = "kv";

const { values: args } = parseArgs({
  options: {
    "data-dir": { type: "string" },
    listen: { type: "string" },
    bootstrap: { type: "boolean", default: false },
    join: { type: "string" },
    "election-timeout-ms": { type: "string", default: "1000" },
    "snapshot-interval-s": { type: "string", default: "30" },
  },
});

/** What a node remembers about itself between starts. */
interface NodeRecord {
  readonly address: string;
}

function fail(message: string): never {
  console.error(`kv server: ${message}`);
  process.exit(2);
}

function readRecord(path: string): NodeRecord | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as NodeRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Listens where this node listened before, else where `--listen` says; records the address. */
async function startServer(dataDir: string): Promise<RaftServer> {
  const recordPath = join(dataDir, "node.json");
  const record = readRecord(recordPath);
  if (record !== undefined && args.listen !== undefined && args.listen !== record.address) {
    fail(
      `${dataDir} belongs to the node at ${record.address}, not ${args.listen}: drop --listen to restart it`,
    );
  }
  const listen = record?.address ?? args.listen ?? "127.0.0.1:0";
  if (listen.startsWith("0.0.0.0"))
    fail("--listen needs the address peers dial (e.g. 10.0.0.5:8200), not 0.0.0.0");
  const server = new RaftServer();
  try {
    await server.start(listen);
  } catch (error) {
    fail(`${(error as Error).message}: choose another port (--listen=ip:port; port 0 picks a free one)`);
  }
  if (record === undefined) writeFileSync(recordPath, `${JSON.stringify({ address: server.address })}\n`);
  return server;
}

async function main(): Promise<void> {
  if (args["data-dir"] === undefined) fail("--data-dir=<dir> is required (one directory per node)");
  const dataDir = resolve(args["data-dir"]);
  mkdirSync(dataDir, { recursive: true });
  const server = await startServer(dataDir);
  const peerId = `${server.address}:0`;
  const fsm = new KvStateMachine();
  const node = new RaftNode(KV_GROUP, peerId);
  await node.init({
    fsm,
    server,
    // Only the very first start of the very first node names a configuration; every other node
    // starts empty and waits to be added (its log, once it has one, holds the configuration).
    initialConf: args.bootstrap ? peerId : "",
    electionTimeoutMs: Number(args["election-timeout-ms"]),
    snapshotIntervalS: Number(args["snapshot-interval-s"]),
    logUri: `local://${join(dataDir, "log")}`,
    raftMetaUri: `local://${join(dataDir, "raft_meta")}`,
    snapshotUri: `local://${join(dataDir, "snapshot")}`,
  });
  registerKvRoutes({ server, node, fsm });
  console.log(`ready http://${server.address} peer=${peerId} pid=${process.pid}`);
  stopOnSignals(node, server);
  if (args.join !== undefined) {
    await joinCluster(args.join, peerId);
    console.log(`joined through ${args.join}`);
  }
}

function stopOnSignals(node: RaftNode, server: RaftServer): void {
  const stop = (): void => {
    void node
      .shutdown()
      .then(() => server.stop())
      .then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  fail(RaftError.is(error) ? `${error.code}: ${error.message}` : String(error));
});
