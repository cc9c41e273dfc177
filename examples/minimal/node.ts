import { parseArgs } from "node:util";
import { RaftError, RaftNode, RaftServer } from "../../src/index.js";
import { KvStore, encodeSet } from "./kv-store.js";

// node node.js --port=8100 --peers=127.0.0.1:8100:0,127.0.0.1:8101:0,127.0.0.1:8102:0
const { values } = parseArgs({
  options: { port: { type: "string" }, peers: { type: "string" }, data: { type: "string" } },
});
const port = Number(values.port ?? 8100);
const dataDir = values.data ?? `./data/${port}`; // one directory per node, even in one folder

const server = new RaftServer();
await server.start(`127.0.0.1:${port}`); // raft RPCs of every group, your services, HTTP pages
const fsm = new KvStore();
const node = new RaftNode("kv", `127.0.0.1:${port}:0`);
await node.init({
  fsm,
  server,
  initialConf: values.peers ?? `127.0.0.1:${port}:0`,
  logUri: `local://${dataDir}/log`,
  raftMetaUri: `local://${dataDir}/raft_meta`,
  snapshotUri: `local://${dataDir}/snapshot`,
});
process.once("SIGINT", () => void node.shutdown().then(() => server.stop()));
process.once("SIGTERM", () => void node.shutdown().then(() => server.stop()));

// An election takes about a second; until then nobody accepts writes.
while (node.leaderId() === undefined) await new Promise((resolve) => setTimeout(resolve, 100));

// Writes go through the leader; elsewhere apply() rejects with EPERM and the leader's id.
try {
  const { index, result } = await node.apply(encodeSet({ key: `written-by-${port}`, value: "hello" }));
  console.log(`leader: applied at index ${index}, previous value ${String(result)}`);
} catch (error) {
  if (!RaftError.is(error) || error.code !== "EPERM") throw error;
  console.log(`follower: send writes to the leader, ${error.leaderId ?? "not known yet"}`);
}

// Linearizable reads, on any node: wait until everything committed before the read is applied.
await node.readIndex();
console.log(`read: ${JSON.stringify([...fsm.data])}`);
