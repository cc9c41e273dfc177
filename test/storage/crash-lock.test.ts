/**
 * The storage lock across real processes: two processes on one data directory (the second is
 * refused, the first keeps running), kill -9 of the holder (the next start takes the stale lock
 * over and finds every acknowledged entry), and two processes started together (exactly one runs,
 * also when both find the stale lock of a killed holder). Polls with deadlines, never sleeps.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RaftNode } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { startChild, type RunningChild } from "./crash-harness.js";
import { nodeUris, removeDir, tempDir, waitFor } from "./helpers.js";

const GROUP = "Counter";
const PEER = "127.0.0.1:9301:0";
const ACK_TIMEOUT_MS = 20_000;

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await removeDir(dir);
});

async function dataDir(): Promise<string> {
  const dir = await tempDir("tsraft-lock-");
  dirs.push(dir);
  return dir;
}

function acksOf(child: RunningChild): number[] {
  return child.lines.filter((line) => line.startsWith("ack ")).map((line) => Number(line.split(" ")[1]));
}

/** True when the child started its node, false when it was refused (and exited). */
async function started(child: RunningChild): Promise<boolean> {
  return child.lineStartingWith("started ").then(
    () => true,
    () => false,
  );
}

test("TwoProcessesOneDirectory: the second process is refused with EBUSY naming the directory and the holder", async () => {
  const dir = await dataDir();
  const holder = startChild(["node", dir, GROUP, PEER]);
  try {
    await holder.lineStartingWith("ack ", ACK_TIMEOUT_MS);
    const second = startChild(["node", dir, GROUP, PEER]);
    const refused = await second.lineStartingWith("refused ", ACK_TIMEOUT_MS);
    assert.equal(await second.exited, 3);
    assert.match(refused, /^refused EBUSY storage directory /);
    assert.ok(refused.includes(dir), `names the directory: ${refused}`);
    assert.ok(refused.includes(`pid ${holder.pid} `), `names the holder's pid: ${refused}`);
    assert.ok(refused.includes(`group "${GROUP}", peer ${PEER}`), `names group and peer: ${refused}`);
    const acks = acksOf(holder).length;
    await waitFor(() => acksOf(holder).length >= acks + 10, ACK_TIMEOUT_MS, "the holder to keep committing");
  } finally {
    await holder.kill9();
  }
});

test("Kill9Holder: the next start takes the stale lock over and finds every acknowledged entry", async () => {
  const dir = await dataDir();
  const holder = startChild(["node", dir, GROUP, PEER]);
  await waitFor(() => acksOf(holder).length >= 20 || holder.lines.length > 100, ACK_TIMEOUT_MS, "20 acks");
  await holder.kill9();
  const lastAcked = Math.max(...acksOf(holder));

  const node = new RaftNode(GROUP, PEER);
  await node.init({
    fsm: { onApply: (iter) => void [...iter] },
    server: new InProcessNetwork().host(PEER),
    initialConf: PEER,
    ...nodeUris(dir),
  });
  try {
    assert.ok(node.getStatus().lastIndex >= lastAcked, "every acknowledged entry is there");
    const third = startChild(["node", dir, GROUP, PEER]);
    const refused = await third.lineStartingWith("refused ", ACK_TIMEOUT_MS);
    assert.ok(refused.includes(`pid ${process.pid} `), `this process holds the lock now: ${refused}`);
  } finally {
    await node.shutdown();
  }
  const afterShutdown = startChild(["node", dir, GROUP, PEER]);
  try {
    assert.ok(await started(afterShutdown), `shutdown released the lock: ${afterShutdown.lines.join(" | ")}`);
  } finally {
    await afterShutdown.kill9();
  }
});

test("TwoProcessesRace: of two processes started together, exactly one runs, also on a stale lock", async () => {
  const dir = await dataDir();
  for (let round = 0; round < 3; round++) {
    // Round 0 finds a new directory; later rounds the lock of the winner killed with -9.
    const pair = [startChild(["node", dir, GROUP, PEER]), startChild(["node", dir, GROUP, PEER])];
    const outcomes = await Promise.all(pair.map(started));
    const winners = pair.filter((_, i) => outcomes[i]);
    assert.equal(winners.length, 1, `round ${round}: ${pair.map((c) => c.lines.join(" | ")).join(" // ")}`);
    const loser = pair.find((_, i) => !outcomes[i]);
    assert.match(loser?.lines.join("\n") ?? "", /refused EBUSY/);
    await Promise.all(pair.map((child) => child.kill9()));
  }
});
