/**
 * braft's counter server (example/counter/server.cpp) on tsraft: one RaftServer carrying the raft
 * services and example.CounterService on `--port`, one node of group `--group` storing under
 * `--data_path` (log, raft_meta and snapshot, fsync on). Flags keep braft's names and defaults.
 *
 *   node dist/examples/counter/server.js --port=8100 \
 *     --conf=127.0.0.1:8100:0,127.0.0.1:8101:0,127.0.0.1:8102:0 --data_path=./data/8100
 *
 * SIGINT or SIGTERM shuts the node down, then the server, and exits 0.
 */
import { RaftNode, RaftServer } from "../../src/index.js";
import { serveCounter } from "./counter-service.js";
import { EncryptingFileSystem } from "./encrypting-fs.js";
import { CounterStateMachine } from "./counter-state-machine.js";
import { parseFlags } from "./flags.js";

const flags = parseFlags("counter server", {
  ip: { default: "127.0.0.1", help: "Address of this peer (braft uses the host's IP)" },
  port: { default: 8100, help: "Listen port of this peer" },
  conf: { default: "", help: "Initial configuration of the replication group; empty: none" },
  data_path: { default: "./data", help: "Path of data stored on" },
  group: { default: "Counter", help: "Id of the replication group" },
  election_timeout_ms: {
    default: 5000,
    help: "Start election in such milliseconds if disconnect with the leader",
  },
  snapshot_interval: { default: 30, help: "Interval between each snapshot, in seconds" },
  check_term: { default: true, help: "Check if the leader changed to another term" },
  disable_cli: { default: false, help: "Don't allow raft_cli access this node" },
  log_applied_task: { default: false, help: "Print notice log when a task is applied" },
  read_index: { default: true, help: "get confirms leadership with a quorum (linearizable)" },
  raft_sync: { default: true, help: "fsync each log write before acknowledging it (braft's raft_sync)" },
  snapshot_key: {
    default: "",
    help: "tsraft only: 64 hex digits of an AES-256 key; snapshots are kept encrypted with it",
  },
  raft_enable_leader_lease: {
    default: false,
    help: "Leader lease (braft's flag): the leader steps down without a quorum, gets read inside the lease",
  },
  witness: {
    default: false,
    help: "Run as a witness (braft's NodeOptions::witness): vote and keep the log, apply nothing; peer id ip:port:0:1",
  },
  raft_enable_witness_to_leader: {
    default: false,
    help: "Witnesses get entry data and may lead briefly to hand leadership to a full replica (braft's flag)",
  },
});

const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

async function main(): Promise<void> {
  const fsm = new CounterStateMachine(log, flags.log_applied_task);
  const server = new RaftServer();
  // A witness carries braft's witness role in its PeerId, as every configuration naming it must.
  const peer = `${flags.ip}:${flags.port}:0${flags.witness ? ":1" : ""}`;
  const node = new RaftNode(flags.group, peer);
  serveCounter(server, node, fsm, { checkTerm: flags.check_term, readIndex: flags.read_index });
  let stopping: Promise<void> | undefined;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      log(`Counter service is going to quit (${signal})`);
      await node.shutdown();
      await server.stop();
      log("Counter service stopped");
    })());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void stop(signal).then(() => process.exit(0)));
  }

  // Start the server before the node, as braft's counter does, so a new leader is reachable.
  await server.start(`${flags.ip}:${flags.port}`);
  const prefix = `local://${flags.data_path}`;
  await node.init({
    fsm,
    server,
    initialConf: flags.conf === "" ? undefined : flags.conf,
    electionTimeoutMs: flags.election_timeout_ms,
    snapshotIntervalS: flags.snapshot_interval,
    logUri: `${prefix}/log`,
    raftMetaUri: `${prefix}/raft_meta`,
    snapshotUri: `${prefix}/snapshot`,
    ...snapshotFileSystem(),
    disableCli: flags.disable_cli,
    witness: flags.witness,
    flags: {
      raft_sync: flags.raft_sync,
      raft_enable_leader_lease: flags.raft_enable_leader_lease,
      raft_enable_witness_to_leader: flags.raft_enable_witness_to_leader,
    },
  });
  log(`Counter service is running on ${server.address} as ${peer} of group ${flags.group}`);
}

/** With --snapshot_key, snapshots go through an encrypting FileSystemAdaptor. */
function snapshotFileSystem(): { snapshotFileSystemAdaptor?: EncryptingFileSystem } {
  if (flags.snapshot_key === "") return {};
  if (!/^[0-9a-fA-F]{64}$/.test(flags.snapshot_key)) throw new Error("--snapshot_key needs 64 hex digits");
  return { snapshotFileSystemAdaptor: new EncryptingFileSystem(Buffer.from(flags.snapshot_key, "hex")) };
}

main().catch((error: unknown) => {
  console.error(`Fail to start counter server: ${String(error)}`);
  process.exit(1);
});
