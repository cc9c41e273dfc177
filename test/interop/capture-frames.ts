/**
 * Records the baidu_std frames real braft sends, as fixtures for `npm test`
 * (test/rpc/fixtures/braft/frames): `node dist/test/interop/capture-frames.js [--braft-bin=DIR]`.
 *
 * Two braft counter_servers and one in-process tsraft node form a group. The tsraft node's
 * PeerId names a recording proxy in front of its real port, so every request braft (or
 * braft_cli) sends it is recorded; its own connections to the braft nodes go through recording
 * proxies too (RaftServerOptions.resolveAddress), so braft's answers are recorded. The run moves
 * leadership to the tsraft node and back with braft_cli, and has the tsraft node, wiped, install
 * braft's snapshot (install_snapshot, then get_file from braft's FileService).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CounterClient, fetchAddRequest } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";
import { CounterStateMachine } from "../../examples/counter/counter-state-machine.js";
import { RaftNode, RaftServer } from "../../src/index.js";
import { braftBinary, braftUnavailable, REPO_ROOT } from "./braft-bin.js";
import { Child, httpGet, parseRaftStat, pickPorts, run, waitFor } from "./processes.js";
import { framesOf, RecordingProxy, type RecordedFrame } from "./recording-proxy.js";

const OUT = join(REPO_ROOT, "test", "rpc", "fixtures", "braft", "frames");
const GROUP = "Counter";
/** Frames kept per kind (request or response, service.method, with or without attachment). */
const KEEP_PER_KIND = 2;

interface Setup {
  readonly root: string;
  readonly braft: { port: number; proxy: RecordingProxy; child: Child; dir: string }[];
  readonly tsraftPort: number;
  readonly tsraftProxy: RecordingProxy;
  readonly conf: string;
}

function tsraftPeer(s: Setup): string {
  return `127.0.0.1:${s.tsraftProxy.port}:0`;
}

async function startBraft(port: number, conf: string, dir: string): Promise<Child> {
  await mkdir(dir, { recursive: true });
  const args = [
    `--port=${port}`,
    `--conf=${conf}`,
    "--data_path=./data",
    "--election_timeout_ms=2000",
    "--snapshot_interval=3600",
    "--raft_sync=true",
    "--bthread_concurrency=4",
    "--crash_on_fatal_log=true",
  ];
  const child = new Child(`braft ${port}`, braftBinary("counter_server"), args, dir);
  await waitFor(`braft ${port} to serve`, async () => {
    if (!child.running) throw new Error(child.tail());
    return parseRaftStat(await httpGet(port, "/raft_stat"), GROUP) !== undefined ? true : undefined;
  });
  return child;
}

/** A tsraft counter node whose PeerId is the proxy's address; it dials braft through proxies. */
async function startTsraft(s: Setup): Promise<{ node: RaftNode; server: RaftServer }> {
  const dialVia = new Map(s.braft.map((b) => [`127.0.0.1:${b.port}`, `127.0.0.1:${b.proxy.port}`]));
  const server = new RaftServer({ resolveAddress: (endpoint) => dialVia.get(endpoint) ?? endpoint });
  await server.start(`127.0.0.1:${s.tsraftPort}`);
  const node = new RaftNode(GROUP, tsraftPeer(s));
  const data = `local://${join(s.root, "tsraft", "data")}`;
  await node.init({
    fsm: new CounterStateMachine(),
    server,
    initialConf: s.conf,
    electionTimeoutMs: 2000,
    snapshotIntervalS: 3600,
    logUri: `${data}/log`,
    raftMetaUri: `${data}/raft_meta`,
    snapshotUri: `${data}/snapshot`,
  });
  return { node, server };
}

async function braftLeaderPort(s: Setup): Promise<number | undefined> {
  for (const b of s.braft) {
    const stat = parseRaftStat(await httpGet(b.port, "/raft_stat"), GROUP);
    if (stat?.get("state") === "LEADER") return b.port;
  }
  return undefined;
}

async function writeToBraft(s: Setup, count: number): Promise<void> {
  const client = new CounterClient(s.conf, GROUP, 2000);
  const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
  try {
    for (let i = 0; i < count; i++) {
      await waitFor("a write through braft's leader", async () => {
        const port = await braftLeaderPort(s);
        if (port === undefined) return undefined;
        const answer = await client.call(`127.0.0.1:${port}`, "fetch_add", fetchAddRequest(1n), reply);
        return answer.success ? true : undefined;
      });
    }
  } finally {
    client.close();
  }
}

async function braftCli(s: Setup, args: string[]): Promise<void> {
  const { code, output } = await run(
    "braft_cli",
    braftBinary("braft_cli"),
    [...args, `--group=${GROUP}`],
    s.root,
  );
  if (code !== 0) throw new Error(`braft_cli ${args.join(" ")}: ${output}`);
}

async function scenario(s: Setup): Promise<void> {
  let tsraft = await startTsraft(s);
  const [a, b] = s.braft as [Setup["braft"][0], Setup["braft"][0]];
  await waitFor("a leader", async () => (tsraft.node.isLeader() ? true : await braftLeaderPort(s)));
  if (tsraft.node.isLeader()) await tsraft.node.transferLeadershipTo(`127.0.0.1:${a.port}:0`);
  await writeToBraft(s, 5);
  await braftCli(s, ["transfer_leader", `--peer=${tsraftPeer(s)}`, `--conf=${s.conf}`]);
  await waitFor("the tsraft node to lead", () => (tsraft.node.isLeader() ? true : undefined));
  for (let i = 0; i < 5; i++)
    await tsraft.node.apply(fetchAddRequest(1n), {
      signal: AbortSignal.timeout(5000),
    });
  await braftCli(s, ["transfer_leader", `--peer=127.0.0.1:${a.port}:0`, `--conf=${s.conf}`]);
  await waitFor("braft to lead again", () => braftLeaderPort(s));
  // A wiped tsraft node installs braft's snapshot; braft keeps its log up to the snapshot before
  // the last, so two snapshots compact it.
  await tsraft.node.shutdown();
  await tsraft.server.stop();
  await rm(join(s.root, "tsraft"), { recursive: true, force: true });
  for (let round = 0; round < 2; round++) {
    await writeToBraft(s, 10);
    for (const node of [a, b]) await braftCli(s, ["snapshot", `--peer=127.0.0.1:${node.port}:0`]);
  }
  await writeToBraft(s, 3);
  tsraft = await startTsraft(s);
  await waitFor("the tsraft node to install braft's snapshot", () =>
    tsraft.node.getStatus().lastSnapshotIndex > 0 ? true : undefined,
  );
  await writeToBraft(s, 3);
  await tsraft.node.shutdown();
  await tsraft.server.stop();
}

/** braft's frames: requests recorded in front of tsraft, responses recorded in front of braft. */
function braftFrames(s: Setup): { kind: "request" | "response"; method: string; frame: RecordedFrame }[] {
  const out: { kind: "request" | "response"; method: string; frame: RecordedFrame }[] = [];
  for (const rec of s.tsraftProxy.recordings) {
    for (const frame of framesOf(rec.sent)) {
      const req = frame.frame.meta.request;
      if (req !== undefined)
        out.push({ kind: "request", method: `${req.serviceName}.${req.methodName}`, frame });
    }
  }
  for (const { proxy } of s.braft) {
    for (const rec of proxy.recordings) {
      const methods = new Map<bigint, string>();
      for (const frame of framesOf(rec.sent)) {
        const req = frame.frame.meta.request;
        if (req !== undefined)
          methods.set(frame.frame.meta.correlationId, `${req.serviceName}.${req.methodName}`);
      }
      for (const frame of framesOf(rec.received)) {
        const method = methods.get(frame.frame.meta.correlationId) ?? "unknown";
        out.push({ kind: "response", method, frame });
      }
    }
  }
  return out;
}

async function save(s: Setup): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const kept = new Map<string, number>();
  const index: object[] = [];
  for (const { kind, method, frame } of braftFrames(s)) {
    const failed = (frame.frame.meta.response?.errorCode ?? 0) !== 0;
    const att = frame.frame.attachment.length > 0 ? "attachment" : "plain";
    const key = `${kind}-${method}-${failed ? "error" : att}`;
    const count = kept.get(key) ?? 0;
    if (count >= KEEP_PER_KIND) continue;
    kept.set(key, count + 1);
    const file = `${key}-${count}.bin`;
    await writeFile(join(OUT, file), frame.bytes);
    index.push({
      file,
      kind,
      method,
      attachmentBytes: frame.frame.attachment.length,
      errorCode: frame.frame.meta.response?.errorCode ?? 0,
    });
  }
  const info = { braft: "v1.1.2-119-gab0017f", conf: s.conf, tsraftPeer: tsraftPeer(s), frames: index };
  await writeFile(join(OUT, "index.json"), JSON.stringify(info, null, 2) + "\n");
  console.log(JSON.stringify(info, null, 2));
}

async function main(): Promise<void> {
  const unavailable = braftUnavailable();
  if (unavailable !== false) throw new Error(unavailable);
  const root = await mkdtemp(join(tmpdir(), "tsraft-capture-"));
  const [pa, pb, ta, tb, tsraftPort, tsraftProxyPort] = (await pickPorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const conf = `127.0.0.1:${pa}:0,127.0.0.1:${pb}:0,127.0.0.1:${tsraftProxyPort}:0`;
  const tsraftProxy = new RecordingProxy(tsraftProxyPort, tsraftPort);
  const braftProxies = [new RecordingProxy(ta, pa), new RecordingProxy(tb, pb)];
  for (const proxy of [tsraftProxy, ...braftProxies]) await proxy.start();
  const braft = await Promise.all(
    [pa, pb].map(async (port, i) => {
      const dir = join(root, `braft-${port}`);
      return { port, proxy: braftProxies[i]!, child: await startBraft(port, conf, dir), dir };
    }),
  );
  const setup: Setup = { root, braft, tsraftPort, tsraftProxy, conf };
  try {
    await scenario(setup);
    await save(setup);
  } catch (error) {
    console.error(braft.map((x) => x.child.tail(30)).join("\n"));
    throw error;
  } finally {
    await Promise.all(braft.map((x) => x.child.kill()));
    for (const proxy of [tsraftProxy, ...braftProxies]) await proxy.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
