/** Steps the interop scenarios share: writes through the leader, braft's load client, transfers. */
import assert from "node:assert/strict";
import { CounterClient, GET_REQUEST, fetchAddRequest } from "../../examples/counter/counter-client.js";
import type { CounterReply } from "../../examples/counter/counter-response.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { braftBinary, REPO_ROOT } from "./braft-bin.js";
import { GROUP, type CounterState, type InteropNode, type MixedCluster } from "./mixed-cluster.js";
import { Child, run, waitFor } from "./processes.js";

/** `count` fetch_add(1) calls, each sent to the node /raft_stat names leader, retried until it succeeds. */
export async function writeThroughLeader(cluster: MixedCluster, count: number): Promise<void> {
  const client = new CounterClient(cluster.conf, cluster.group, 2000);
  const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
  try {
    for (let i = 0; i < count; i++) {
      await waitFor(`write ${i + 1} of ${count}`, async () => {
        const leader = await cluster.leader();
        const answer = await client.call(`127.0.0.1:${leader.port}`, "fetch_add", fetchAddRequest(1n), reply);
        return answer.success ? true : undefined;
      });
    }
  } finally {
    client.close();
  }
}

/** The counter's value read by `get` on the node /raft_stat names leader, retried until it answers. */
export async function readThroughLeader(cluster: MixedCluster): Promise<bigint> {
  const client = new CounterClient(cluster.conf, cluster.group, 2000);
  const reply: CounterReply = { success: false, value: 0, redirect: undefined, refused: false };
  try {
    return await waitFor("a get answered by the leader", async () => {
      const leader = await cluster.leader();
      const answer = await client.call(`127.0.0.1:${leader.port}`, "get", GET_REQUEST, reply);
      return answer.success ? BigInt(answer.value) : undefined;
    });
  } finally {
    client.close();
  }
}

/**
 * Writes `count` through the leader, then waits until every member has committed and applied
 * them and its counter shows the same value; returns that state.
 */
export async function writeAndConverge(
  cluster: MixedCluster,
  count: number,
): Promise<CounterState & { committed: number }> {
  const before = await committedIndex(cluster);
  await writeThroughLeader(cluster, count);
  return cluster.convergedState(before + count);
}

/** The leader's committed index. */
export async function committedIndex(cluster: MixedCluster): Promise<number> {
  const stat = await cluster.stat(await cluster.leader());
  return Number(stat?.get("last_committed_index"));
}

/**
 * braft's counter_client as its run_client.sh drives it (every caller waits for its reply), in
 * `dir`, against the group's `conf`. Kill it when done.
 */
export function startBraftCounterClient(conf: string, dir: string, threads: number): Child {
  const args = [
    `--conf=${conf}`,
    `--thread_num=${threads}`,
    "--add_percentage=100",
    "--use_bthread=true",
    "--bthread_concurrency=4",
    "--timeout_ms=1000",
    "--crash_on_fatal_log=true",
    "--log_each_request=false",
  ];
  return new Child("braft counter_client", braftBinary("counter_client"), args, dir);
}

/** Waits until the leader's committed index passes `index`. */
export function committedPast(cluster: MixedCluster, index: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    `the committed index to pass ${index}`,
    async () => {
      const committed = await committedIndex(cluster);
      return committed > index ? committed : undefined;
    },
    timeoutMs,
  );
}

/** `braft_cli transfer_leader` to `target`, then waits until the whole group follows it. */
export async function transferByBraftCli(
  cluster: MixedCluster,
  target: InteropNode,
  timeoutMs = 10_000,
): Promise<void> {
  await cluster.braftCli("transfer_leader", [`--peer=${target.peer}`, `--conf=${cluster.conf}`]);
  await groupFollows(cluster, target, timeoutMs);
}

/** Runs tsraft's own CLI (`tsraft <command> --group=<group> ...args`); rejects when it fails. */
export async function tsraftCli(command: string, args: readonly string[], group = GROUP): Promise<string> {
  const cli = join(REPO_ROOT, "dist", "src", "cli", "main.js");
  const { code, output } = await run(
    "tsraft",
    process.execPath,
    [cli, command, `--group=${group}`, ...args],
    REPO_ROOT,
  );
  if (code !== 0) throw new Error(`tsraft ${command} ${args.join(" ")} exited ${code}: ${output}`);
  return output;
}

/** `tsraft transfer_leader` to `target`, then waits until the whole group follows it. */
export async function transferByTsraftCli(
  cluster: MixedCluster,
  target: InteropNode,
  timeoutMs = 10_000,
): Promise<void> {
  await tsraftCli("transfer_leader", [`--peer=${target.peer}`, `--conf=${cluster.conf}`], cluster.group);
  await groupFollows(cluster, target, timeoutMs);
}

/** Moves leadership to `target` by either CLI. */
export function transferBy(
  cli: "braft_cli" | "tsraft",
  cluster: MixedCluster,
  target: InteropNode,
  timeoutMs = 10_000,
): Promise<void> {
  return cli === "braft_cli"
    ? transferByBraftCli(cluster, target, timeoutMs)
    : transferByTsraftCli(cluster, target, timeoutMs);
}

/** Runs `command` of either CLI against the cluster's group. */
export function cliRun(
  cli: "braft_cli" | "tsraft",
  cluster: MixedCluster,
  command: string,
  args: readonly string[],
): Promise<string> {
  return cli === "braft_cli" ? cluster.braftCli(command, args) : tsraftCli(command, args, cluster.group);
}

/**
 * Waits until the leader's /raft_stat lists exactly `nodes` as peers (and the cluster expects
 * them as its members from then on).
 */
export async function waitForPeers(cluster: MixedCluster, nodes: readonly InteropNode[]): Promise<void> {
  const want = nodes.map((node) => node.peer).sort();
  cluster.setMembers(nodes);
  await waitFor(
    `the leader's peers to be ${want.join(",")}`,
    async () => {
      const peers = await cluster.peersOf(await cluster.leader());
      return peers.join(",") === want.join(",") ? true : undefined;
    },
    20_000,
  ).catch(async (error: unknown) => assert.fail(`${String(error)}\n${await cluster.describe()}`));
}

/** kill -9 of `node`, then the others go on: a leader, writes; then it restarts on its data. */
export async function killAndRestart(
  cluster: MixedCluster,
  node: InteropNode,
  writes: number,
): Promise<void> {
  await cluster.kill(node);
  await cluster.leader();
  await writeThroughLeader(cluster, writes);
  await cluster.startNode(node);
  await writeThroughLeader(cluster, writes);
}

/** Waits until `target` leads and every running node follows it; fails with the group's state. */
async function groupFollows(cluster: MixedCluster, target: InteropNode, timeoutMs: number): Promise<void> {
  const leader = await waitFor(
    `${target.kind} ${target.peer} to lead after transfer_leader`,
    async () => {
      const now = await cluster.leader(timeoutMs);
      return now === target ? now : undefined;
    },
    timeoutMs,
  ).catch(async (error: unknown) => {
    assert.fail(`${String(error)}\n${await cluster.describe()}\n${cluster.tails()}`);
  });
  assert.equal(leader, target);
}

/**
 * Runs `body` with a braft example client started in a fresh directory against `cluster`; on a
 * failure the cluster's state and every log tail go into the test's output; the client, the
 * cluster and the directory are always cleaned up.
 */
export async function withBraftClient(
  t: { diagnostic(message: string): void },
  cluster: MixedCluster,
  start: (conf: string, dir: string) => Child,
  body: (client: Child) => Promise<void>,
): Promise<void> {
  const clientDir = await mkdtemp(join(tmpdir(), "tsraft-interop-client-"));
  const client = start(cluster.conf, clientDir);
  try {
    await body(client);
  } catch (error) {
    t.diagnostic(`${await cluster.describe()}\n${cluster.tails()}\n${client.tail()}`);
    throw error;
  } finally {
    await client.kill();
    await cluster.stopAll();
    await rm(clientDir, { recursive: true, force: true });
  }
}
