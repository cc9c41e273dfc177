/**
 * braft's boostrap_with_snapshot / bootstrap_without_snapshot and
 * shutdown_and_join_work_after_init_fails, on the in-process network (real time, polled).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RaftError, RaftNode, Status, bootstrap, type Iterator, type StateMachine } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { pollUntil } from "../support/poll.js";

const peers = ["127.0.0.1:9101:0", "127.0.0.1:9102:0", "127.0.0.1:9103:0"];

/** A counter whose snapshot is one file holding its value. */
class Counter implements StateMachine {
  constructor(public value = 0) {}
  onApply(iter: Iterator): void {
    for (const entry of iter) this.value += entry.data[0] ?? 0;
  }
  onSnapshotSave(
    writer: { path: string; addFile(name: string): void },
    done: { run(s: Status): void },
  ): void {
    writeFileSync(join(writer.path, "value"), String(this.value));
    writer.addFile("value");
    done.run(Status.OK());
  }
  onSnapshotLoad(reader: { path: string }): void {
    this.value = Number(readFileSync(join(reader.path, "value"), "utf8"));
  }
}

const uris = (run: string, peer: string) => ({
  logUri: `memory://${run}/${peer}/log`,
  raftMetaUri: `memory://${run}/${peer}/meta`,
  snapshotUri: `memory://${run}/${peer}/snapshot`,
});

async function startAll(run: string, fsms: StateMachine[]): Promise<RaftNode[]> {
  const network = new InProcessNetwork();
  return Promise.all(
    peers.map(async (peer, i) => {
      const node = new RaftNode("boot", peer);
      await node.init({
        fsm: fsms[i] as StateMachine,
        server: network.host(peer),
        electionTimeoutMs: 150,
        ...uris(run, peer),
      });
      return node;
    }),
  );
}

test("BootstrapWithoutSnapshot: nodes start from the bootstrapped configuration", async () => {
  const run = `boot-plain-${process.pid}-${Date.now()}`;
  for (const peer of peers) await bootstrap({ groupConf: peers.join(","), ...uris(run, peer) });
  const fsms = peers.map(() => new Counter());
  const nodes = await startAll(run, fsms);
  try {
    const leader = await pollUntil("a leader", () => nodes.find((n) => n.isLeader()));
    assert.ok(leader.term >= 2, "the first election moves past the bootstrap term");
    await leader.apply(Uint8Array.of(5));
    await pollUntil("all applied", () => (fsms.every((f) => f.value === 5) ? true : undefined));
    await assert.rejects(
      bootstrap({ groupConf: peers.join(","), ...uris(run, peers[0] as string) }),
      (e: unknown) => RaftError.is(e) && e.code === "EEXIST",
    );
  } finally {
    await Promise.all(nodes.map((n) => n.shutdown()));
  }
});

test("BootstrapWithSnapshot: the state machine's data becomes the group's starting state", async () => {
  const run = `boot-snap-${process.pid}-${Date.now()}`;
  for (const peer of peers) {
    await bootstrap({
      groupConf: peers.join(","),
      lastLogIndex: 10,
      fsm: new Counter(42),
      ...uris(run, peer),
    });
  }
  const fsms = peers.map(() => new Counter());
  const nodes = await startAll(run, fsms);
  try {
    assert.ok(
      fsms.every((f) => f.value === 42),
      "every node loaded the bootstrap snapshot",
    );
    const leader = await pollUntil("a leader", () => nodes.find((n) => n.isLeader()));
    const result = await leader.apply(Uint8Array.of(1));
    assert.ok(result.index > 11, "the log continues after the snapshot and the configuration entry");
    await pollUntil("all applied", () => (fsms.every((f) => f.value === 43) ? true : undefined));
  } finally {
    await Promise.all(nodes.map((n) => n.shutdown()));
  }
});

test("InitFailsOnSnapshotLoad: init rejects, and shutdown still works", async () => {
  const run = `boot-fail-${process.pid}-${Date.now()}`;
  const peer = peers[0] as string;
  await bootstrap({ groupConf: peer, lastLogIndex: 3, fsm: new Counter(1), ...uris(run, peer) });
  const broken: StateMachine = {
    onApply() {},
    onSnapshotLoad() {
      throw new Error("corrupt snapshot");
    },
  };
  const node = new RaftNode("boot", peer);
  await assert.rejects(
    node.init({ fsm: broken, server: new InProcessNetwork().host(peer), ...uris(run, peer) }),
    (e: unknown) => RaftError.is(e) && e.code === "ESTATEMACHINE",
  );
  await node.shutdown();
  assert.equal(node.getStatus().state, "SHUTDOWN");
});
