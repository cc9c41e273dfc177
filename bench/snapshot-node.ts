/**
 * One process of the snapshot-install benchmark (driven by snapshot-install.ts): a RaftServer on
 * `--port` and a RaftNode of group "bench" with local:// storage under `--data`. Takes commands on
 * stdin, one a line (`apply N`, `snapshot`, `status`, `exit`), and reports events on stdout as JSON lines
 * (`ready`, `leader`, `applied`, `snapshot`, `status`, `downloading`, `copy`, `loaded`, `exit`, `error`).
 * Exits when stdin closes, so it never outlives its driver.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { RaftError, RaftNode, RaftServer } from "../src/index.js";
import { BigStateMachine } from "./big-state-machine.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    peers: { type: "string" },
    data: { type: "string" },
    "size-mib": { type: "string", default: "256" },
    "election-ms": { type: "string", default: "1000" },
  },
});

/** How often the node's snapshot status is polled for the start of a download. */
const DOWNLOAD_POLL_MS = 2;
/** How often an apply refused with EPERM is tried again. */
const APPLY_RETRY_MS = 20;

function emit(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

/** Peak resident set of this process so far, in KiB (getrusage's ru_maxrss). */
const maxRssKiB = (): number => process.resourceUsage().maxRSS;

/**
 * Applies `data`, waiting out EPERM while this node is not (yet, or again) the leader: without its
 * only peer a 2-node group's leader steps down, and the driver's deadline bounds the wait.
 */
async function applyAsLeader(node: RaftNode, data: Uint8Array): Promise<void> {
  for (;;) {
    try {
      await node.apply(data);
      return;
    } catch (error) {
      if (!RaftError.is(error) || error.code !== "EPERM") throw error;
      await new Promise((resolve) => setTimeout(resolve, APPLY_RETRY_MS));
    }
  }
}

async function main(): Promise<void> {
  const port = Number(values.port);
  const startMs = performance.now();
  let downloadStartMs: number | undefined;
  const fsm = new BigStateMachine(Number(values["size-mib"]) * 1024 * 1024, {
    loaded: (loaded) => {
      const nowMs = performance.now();
      emit("loaded", {
        ...loaded,
        sinceReadyMs: nowMs - startMs,
        installMs: downloadStartMs === undefined ? undefined : nowMs - downloadStartMs,
      });
    },
    leaderStart: (term) => emit("leader", { term }),
  });
  const server = new RaftServer();
  await server.start(`127.0.0.1:${port}`);
  // Each copy the follower starts is reported: a copy that fails and starts over (the leader's
  // install RPC timed out and released its reader) shows up as more than one.
  const transfer = server.snapshotTransfer;
  const copySnapshot = transfer.copySnapshot.bind(transfer);
  transfer.copySnapshot = (uri, writer, options) => {
    emit("copy", { uri, sinceReadyMs: performance.now() - startMs });
    return copySnapshot(uri, writer, options);
  };
  const node = new RaftNode("bench", `127.0.0.1:${port}:0`);
  await node.init({
    fsm,
    server,
    initialConf: values.peers,
    electionTimeoutMs: Number(values["election-ms"]),
    logUri: `local://${values.data}/log`,
    raftMetaUri: `local://${values.data}/raft_meta`,
    snapshotUri: `local://${values.data}/snapshot`,
    // Compact the whole log, so a wiped follower can only catch up by installing the snapshot.
    snapshotLogMarginEntries: 0,
    snapshotIntervalS: 0,
  });
  // The install's own clock starts when the node starts downloading, after any election.
  const poll = setInterval(() => {
    if (node.getStatus().snapshotStatus !== "DOWNLOADING") return;
    downloadStartMs = performance.now();
    emit("downloading", { sinceReadyMs: downloadStartMs - startMs });
    clearInterval(poll);
  }, DOWNLOAD_POLL_MS);

  const commands: Record<string, (arg: string | undefined) => Promise<void>> = {
    apply: async (arg) => {
      for (let i = 0; i < Number(arg ?? 1); i++) await applyAsLeader(node, Uint8Array.of(1));
      emit("applied", { value: fsm.value });
    },
    snapshot: async () => {
      await node.snapshot();
      const status = node.getStatus();
      emit("snapshot", {
        lastSnapshotIndex: status.lastSnapshotIndex,
        firstIndex: status.firstIndex,
        lastIndex: status.lastIndex,
        value: fsm.value,
        maxRssKiB: maxRssKiB(),
      });
    },
    status: () => {
      emit("status", { ...node.getStatus(), memory: process.memoryUsage() });
      return Promise.resolve();
    },
    exit: async () => {
      clearInterval(poll);
      await node.shutdown();
      await server.stop();
      emit("exit", { maxRssKiB: maxRssKiB() });
      process.exit(0);
    },
  };
  const lines = createInterface({ input: process.stdin });
  lines.on("line", (line) => {
    const [name = "", arg] = line.trim().split(/\s+/);
    const command = commands[name];
    if (command === undefined) return emit("error", { message: `unknown command ${line}` });
    command(arg).catch((error: unknown) => emit("error", { message: `${name}: ${String(error)}` }));
  });
  lines.on("close", () => process.exit(1));
  emit("ready", { port });
}

await main();
