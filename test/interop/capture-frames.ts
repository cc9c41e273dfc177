/**
 * Records the baidu_std frames real braft sends, as fixtures for `npm test`
 * (test/rpc/fixtures/braft/frames): `node dist/test/interop/capture-frames.js [--braft-bin=DIR]`.
 *
 * Two braft counter_servers and one in-process tsraft node form a group. braft's processes (the
 * servers and braft_cli) dial the tsraft node through a recording proxy in front of its port (the
 * chaos run's connect() shim, test/chaos/connect-redirect.c, needs a C compiler), so every
 * request braft sends it is recorded; its own connections to the braft nodes go through recording
 * proxies too (RaftServerOptions.resolveAddress), so braft's answers are recorded. The run moves
 * leadership to the tsraft node and back with braft_cli, and has the tsraft node, wiped, install
 * braft's snapshot (install_snapshot, then get_file from braft's FileService). While the tsraft
 * node leads, braft_cli sends it every command, and a wiped braft node installs the tsraft
 * node's snapshot (braft's install_snapshot answer, braft's get_file requests). At the end every
 * CliService method is asked of braft's nodes, answered and refused (capture-cli.ts); each of
 * those answers is saved with what the scenario expects it to say.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CounterClient, fetchAddRequest } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";
import { CounterStateMachine } from "../../examples/counter/counter-state-machine.js";
import { RaftNode, RaftServer } from "../../src/index.js";
import { buildConnectShim } from "../chaos/braft-atomic.js";
import { braftBinary, braftUnavailable, REPO_ROOT } from "./braft-bin.js";
import { Child, httpGet, parseRaftStat, pickPorts, run, waitFor } from "./processes.js";
import {
  braftCliAgainstTsraft,
  cliAnswersFromBraft,
  expectationKey,
  resetTsraftPeers,
  type CliExpectation,
} from "./capture-cli.js";
import { framesOf, RecordingProxy, type RecordedFrame } from "./recording-proxy.js";

const OUT = join(REPO_ROOT, "test", "rpc", "fixtures", "braft", "frames");
const GROUP = "Counter";
/** Frames kept per kind (request or response, service.method, with or without attachment). */
const KEEP_PER_KIND = 2;

interface BraftNode {
  readonly port: number;
  readonly proxy: RecordingProxy;
  child: Child;
  readonly dir: string;
}

interface Setup {
  readonly root: string;
  readonly braft: BraftNode[];
  readonly tsraftPort: number;
  readonly tsraftProxy: RecordingProxy;
  readonly conf: string;
}

function tsraftPeer(s: Setup): string {
  return `127.0.0.1:${s.tsraftPort}:0`;
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

/** Writes through the tsraft leader. */
async function writeToTsraft(node: RaftNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++)
    await node.apply(fetchAddRequest(1n), { signal: AbortSignal.timeout(5000) });
}

/**
 * The tsraft leader compacts its log by two snapshots; braft node `b`, wiped, then installs the
 * tsraft node's snapshot (braft answers install_snapshot and asks tsraft's FileService).
 */
async function braftInstallsTsraftSnapshot(s: Setup, leader: RaftNode, b: BraftNode): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await writeToTsraft(leader, 5);
    await leader.snapshot();
  }
  await writeToTsraft(leader, 3);
  await b.child.kill();
  await rm(join(b.dir, "data"), { recursive: true, force: true });
  b.child = await startBraft(b.port, s.conf, b.dir);
  await waitFor("braft to install the tsraft node's snapshot", async () => {
    const stat = parseRaftStat(await httpGet(b.port, "/raft_stat"), GROUP);
    return Number(stat?.get("last_snapshot_index") ?? 0) > 0 ? true : undefined;
  });
  await writeToTsraft(leader, 3);
}

/** Waits until the braft node `peer` reports that it leads. */
async function braftLeads(s: Setup, peer: string): Promise<void> {
  await waitFor(`${peer} to lead`, async () => {
    const port = await braftLeaderPort(s);
    return port !== undefined && `127.0.0.1:${port}:0` === peer ? true : undefined;
  });
}

async function scenario(s: Setup): Promise<Map<string, CliExpectation>> {
  let tsraft = await startTsraft(s);
  const [a, b] = s.braft as [BraftNode, BraftNode];
  const cli = (args: string[]): Promise<void> => braftCli(s, args);
  await waitFor("a leader", async () => (tsraft.node.isLeader() ? true : await braftLeaderPort(s)));
  if (tsraft.node.isLeader()) await tsraft.node.transferLeadershipTo(`127.0.0.1:${a.port}:0`);
  await writeToBraft(s, 5);
  await cli(["transfer_leader", `--peer=${tsraftPeer(s)}`, `--conf=${s.conf}`]);
  await waitFor("the tsraft node to lead", () => (tsraft.node.isLeader() ? true : undefined));
  await writeToTsraft(tsraft.node, 5);
  await braftCliAgainstTsraft(cli, s.conf, tsraftPeer(s), `127.0.0.1:${b.port}:0`);
  await braftInstallsTsraftSnapshot(s, tsraft.node, b);
  await cli(["transfer_leader", `--peer=127.0.0.1:${a.port}:0`, `--conf=${s.conf}`]);
  await waitFor("braft to lead again", () => braftLeaderPort(s));
  // A wiped tsraft node installs braft's snapshot; braft keeps its log up to the snapshot before
  // the last, so two snapshots compact it.
  await tsraft.node.shutdown();
  await tsraft.server.stop();
  await rm(join(s.root, "tsraft"), { recursive: true, force: true });
  for (let round = 0; round < 2; round++) {
    await writeToBraft(s, 10);
    for (const node of [a, b]) await cli(["snapshot", `--peer=127.0.0.1:${node.port}:0`]);
  }
  await writeToBraft(s, 3);
  tsraft = await startTsraft(s);
  await waitFor("the tsraft node to install braft's snapshot", () =>
    tsraft.node.getStatus().lastSnapshotIndex > 0 ? true : undefined,
  );
  await writeToBraft(s, 3);
  const leaderPort = await waitFor("a braft leader", () => braftLeaderPort(s));
  const [leader, follower] = leaderPort === a.port ? [a, b] : [b, a];
  const address = (n: BraftNode) => ({ peer: `127.0.0.1:${n.port}:0`, proxyPort: n.proxy.port });
  const expectations = await cliAnswersFromBraft(
    GROUP,
    s.conf,
    address(leader),
    address(follower),
    tsraftPeer(s),
    (peer) => braftLeads(s, peer),
  );
  // vote(): the tsraft follower campaigns as braft's does on an election timeout, pre-vote first,
  // so braft answers a pre_vote (granted: braft's follower lease is off without the leader lease).
  await waitFor("the tsraft node to follow a leader", () =>
    tsraft.node.leaderId() === undefined ? undefined : true,
  );
  tsraft.node.vote(2000);
  await waitFor("the tsraft node to lead after its vote", () => (tsraft.node.isLeader() ? true : undefined));
  await resetTsraftPeers(cli, s.conf, tsraftPeer(s));
  await tsraft.node.shutdown();
  await tsraft.server.stop();
  return expectations;
}

interface BraftFrame {
  readonly kind: "request" | "response";
  readonly method: string;
  readonly frame: RecordedFrame;
  /** For a response: the request it answers. */
  readonly request?: RecordedFrame;
}

/** braft's frames: requests recorded in front of tsraft, responses recorded in front of braft. */
function braftFrames(s: Setup): BraftFrame[] {
  const out: BraftFrame[] = [];
  for (const rec of s.tsraftProxy.recordings) {
    for (const frame of framesOf(rec.sent)) {
      const req = frame.frame.meta.request;
      if (req !== undefined)
        out.push({ kind: "request", method: `${req.serviceName}.${req.methodName}`, frame });
    }
  }
  for (const { proxy } of s.braft) {
    for (const rec of proxy.recordings) {
      const requests = new Map<bigint, RecordedFrame>();
      for (const frame of framesOf(rec.sent)) requests.set(frame.frame.meta.correlationId, frame);
      for (const frame of framesOf(rec.received)) {
        const request = requests.get(frame.frame.meta.correlationId);
        const req = request?.frame.meta.request;
        const method = req === undefined ? "unknown" : `${req.serviceName}.${req.methodName}`;
        out.push({ kind: "response", method, frame, ...(request === undefined ? {} : { request }) });
      }
    }
  }
  return out;
}

/** What the scenario expects a CliService answer to say, when it asked the question itself. */
function expectationOf(f: BraftFrame, expectations: ReadonlyMap<string, CliExpectation>): object {
  const req = f.request?.frame.meta.request;
  if (f.kind !== "response" || f.request === undefined || req === undefined) return {};
  const expect = expectations.get(expectationKey(req.methodName, f.request.frame.message));
  return expect === undefined ? {} : { expect: { error: expect.error, fields: expect.fields } };
}

async function save(s: Setup, expectations: ReadonlyMap<string, CliExpectation>): Promise<void> {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const kept = new Map<string, number>();
  const index: object[] = [];
  for (const f of braftFrames(s)) {
    const { kind, method, frame } = f;
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
      ...expectationOf(f, expectations),
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
  const conf = `127.0.0.1:${pa}:0,127.0.0.1:${pb}:0,127.0.0.1:${tsraftPort}:0`;
  // braft's servers and braft_cli dial the tsraft node through its recording proxy: the
  // connect() shim of the chaos run redirects them (a node's PeerId must be its server's address).
  process.env["LD_PRELOAD"] = await buildConnectShim(root);
  process.env["TSRAFT_CONNECT_MAP"] = `${tsraftPort}=${tsraftProxyPort}`;
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
    await save(setup, await scenario(setup));
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
