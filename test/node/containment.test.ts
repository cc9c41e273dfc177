/**
 * Containment of failures in user code and broken invariants: the failing node goes to the ERROR
 * state (onError, the stack logged) while another group on the same servers keeps committing, and
 * nothing escapes as an unhandled rejection (node:test fails a test that leaves one behind).
 * In-process network, real time, polled with deadlines: nothing here asserts timing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ANY_PEER,
  RaftError,
  RaftNode,
  Status,
  type Closure,
  type Iterator,
  type StateMachine,
} from "../../src/index.js";
import { invariant } from "../../src/core/errors.js";
import type { LogFields, Logger } from "../../src/env/logger.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { pollUntil } from "../support/poll.js";

const endpoints = ["127.0.0.1:9201", "127.0.0.1:9202", "127.0.0.1:9203"];
const peers = endpoints.map((e) => `${e}:0`);

/** A counter that records the errors it is told of. */
class Counter implements StateMachine {
  value = 0;
  readonly errors: RaftError[] = [];
  onApply(iter: Iterator): void | Promise<void> {
    for (const entry of iter) {
      this.value += entry.data[0] ?? 0;
      entry.done?.setResult?.(this.value);
    }
  }
  onError(error: RaftError): void {
    this.errors.push(error);
  }
  onSnapshotSave(_writer: unknown, done: Closure): void | Promise<void> {
    done.run(Status.OK());
  }
}

type Callback =
  | "onApply"
  | "onLeaderStart"
  | "onLeaderStop"
  | "onStartFollowing"
  | "onStopFollowing"
  | "onConfigurationCommitted"
  | "onSnapshotSave";

/** A Counter whose `callback` throws (or, with `reject`, returns a rejected Promise). */
function faultyCounter(callback: Callback, reject: boolean): Counter {
  const fsm = new Counter();
  const fault = (): void | Promise<void> => {
    const error = new Error(`${callback} broke on purpose`);
    if (reject) return Promise.reject(error);
    throw error;
  };
  Object.assign(fsm, { [callback]: fault });
  return fsm;
}

/** Collects error lines, so a test can see the stack was logged. */
class CapturingLogger implements Logger {
  readonly errors: { message: string; fields: LogFields | undefined }[] = [];
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(message: string, fields?: LogFields): void {
    this.errors.push({ message, fields });
  }
}

interface Group {
  readonly nodes: RaftNode[];
  readonly fsms: Counter[];
}

/** Two groups on the same three servers: "good" with counters, "bad" with `fsmOf`'s machines. */
class TwoGroups {
  readonly network = new InProcessNetwork();
  readonly run = `containment-${process.pid}-${Date.now()}-${Math.random()}`;
  readonly logger = new CapturingLogger();
  readonly hosts = endpoints.map((endpoint) => this.network.host(endpoint));
  good: Group = { nodes: [], fsms: [] };
  bad: Group = { nodes: [], fsms: [] };

  async start(
    fsmOf: () => Counter,
    newNode = (group: string, peer: string) => new RaftNode(group, peer),
  ): Promise<void> {
    this.good = await this.startGroup("good", () => new Counter(), newNode);
    this.bad = await this.startGroup("bad", fsmOf, newNode);
  }

  private async startGroup(
    group: string,
    fsmOf: () => Counter,
    newNode: (group: string, peer: string) => RaftNode,
  ): Promise<Group> {
    const fsms = peers.map(() => fsmOf());
    const nodes = await Promise.all(
      peers.map(async (peer, i) => {
        const node = newNode(group, peer);
        await node.init({
          fsm: fsms[i] as Counter,
          server: this.hosts[i]!,
          initialConf: peers.join(","),
          electionTimeoutMs: 150,
          logUri: `memory://${this.run}/${group}/${peer}/log`,
          raftMetaUri: `memory://${this.run}/${group}/${peer}/meta`,
          snapshotUri: `memory://${this.run}/${group}/${peer}/snapshot`,
          logger: this.logger,
        });
        return node;
      }),
    );
    return { nodes, fsms };
  }

  leaderOf(group: Group): Promise<RaftNode> {
    return pollUntil("a leader", () => group.nodes.find((n) => n.isLeader()));
  }

  /** Waits for a node of the bad group in ERROR, told through onError with `code`. */
  async failedNode(code: string): Promise<Counter> {
    const index = await pollUntil("a node in ERROR", () => {
      const i = this.bad.nodes.findIndex((n) => n.getStatus().state === "ERROR");
      return i < 0 ? undefined : i;
    });
    const fsm = this.bad.fsms[index]!;
    await pollUntil("onError", () => (fsm.errors.length > 0 ? true : undefined));
    assert.equal(fsm.errors[0]?.code, code);
    return fsm;
  }

  /** The good group still elects and commits. */
  async goodGroupCommits(): Promise<void> {
    const leader = await this.leaderOf(this.good);
    const before = this.good.fsms.find((_, i) => this.good.nodes[i] === leader)!.value;
    const result = await leader.apply(Uint8Array.of(7));
    assert.equal(result.result, before + 7);
  }

  /** Some error line carries the stack of the error thrown by `where`. */
  assertStackLogged(text: string): void {
    const logged = this.logger.errors.some((line) => {
      const stack = line.fields?.["stack"];
      return typeof stack === "string" && stack.includes(text) && stack.includes("    at ");
    });
    assert.ok(logged, `a logged stack mentions "${text}": ${JSON.stringify(this.logger.errors)}`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.good.nodes, ...this.bad.nodes].map((n) => n.shutdown()));
  }
}

/** How each callback is made to run on the bad group. */
const triggers: Record<Callback, (groups: TwoGroups) => Promise<void>> = {
  onApply: async (groups) => {
    const leader = await groups.leaderOf(groups.bad);
    await leader.apply(Uint8Array.of(1)).catch(() => undefined);
  },
  onLeaderStart: async () => undefined,
  onStartFollowing: async () => undefined,
  onConfigurationCommitted: async () => undefined,
  onLeaderStop: async (groups) => {
    const leader = await groups.leaderOf(groups.bad);
    await leader.transferLeadershipTo(ANY_PEER).catch(() => undefined);
  },
  onStopFollowing: async (groups) => {
    const leader = await groups.leaderOf(groups.bad);
    await leader.transferLeadershipTo(ANY_PEER).catch(() => undefined);
  },
  onSnapshotSave: async (groups) => {
    const leader = await groups.leaderOf(groups.bad);
    await leader.apply(Uint8Array.of(1));
    await leader.snapshot().catch(() => undefined);
  },
};

for (const callback of Object.keys(triggers) as Callback[]) {
  for (const reject of [false, true]) {
    const how = reject ? "rejects" : "throws";
    test(`StateMachineFailureContained: ${callback} ${how}, the node goes to ERROR, the other group commits`, async () => {
      const groups = new TwoGroups();
      try {
        await groups.start(() => faultyCounter(callback, reject));
        await triggers[callback](groups);
        await groups.failedNode("ESTATEMACHINE");
        groups.assertStackLogged(`${callback} broke on purpose`);
        await groups.goodGroupCommits();
      } finally {
        await groups.stop();
      }
    });
  }
}

test("ClosureFailureContained: a done closure that throws puts its node in ERROR, the other group commits", async () => {
  const groups = new TwoGroups();
  try {
    await groups.start(() => new Counter());
    const leader = await groups.leaderOf(groups.bad);
    leader.applyTask({
      data: Uint8Array.of(1),
      done: {
        run: () => {
          throw new Error("done closure broke on purpose");
        },
      },
    });
    await groups.failedNode("ESTATEMACHINE");
    groups.assertStackLogged("done closure broke on purpose");
    await groups.goodGroupCommits();
  } finally {
    await groups.stop();
  }
});

test("ClosureFailureContained: a done closure that throws does not keep the closures failed with it from running", async () => {
  const groups = new TwoGroups();
  try {
    await groups.start(() => new Counter());
    const leader = await groups.leaderOf(groups.bad);
    const follower = groups.bad.nodes.find((n) => n !== leader)!;
    const seen: string[] = [];
    // Queued together, failed together (EPERM): the throwing one must not keep the other from running.
    follower.applyTask({
      data: Uint8Array.of(1),
      done: {
        run: () => {
          seen.push("first");
          throw new Error("done closure broke on purpose");
        },
      },
    });
    follower.applyTask({ data: Uint8Array.of(1), done: { run: (s) => void seen.push(s.code ?? "OK") } });
    await pollUntil("both closures ran", () => (seen.length === 2 ? true : undefined));
    assert.deepEqual(seen, ["first", "EPERM"]);
    await pollUntil("the follower in ERROR", () =>
      follower.getStatus().state === "ERROR" ? true : undefined,
    );
    await groups.goodGroupCommits();
  } finally {
    await groups.stop();
  }
});

/** A node that can break an invariant on demand, as a bug in the core would. */
class BreakableNode extends RaftNode {
  breakInvariant(): void {
    this.withCore(() => invariant(false, "invariant broken on purpose"));
  }
}

test("InvariantFailureContained: a broken invariant is ERAFTINTERNAL, the node goes to ERROR, the other group commits", async () => {
  const groups = new TwoGroups();
  try {
    await groups.start(
      () => new Counter(),
      (group, peer) => new BreakableNode(group, peer),
    );
    const leader = (await groups.leaderOf(groups.bad)) as BreakableNode;
    leader.breakInvariant();
    const fsm = await groups.failedNode("ERAFTINTERNAL");
    assert.equal(fsm.errors[0]?.errno, 30001);
    groups.assertStackLogged("invariant broken on purpose");
    await groups.goodGroupCommits();
  } finally {
    await groups.stop();
  }
});

test("StateMachineFailureContained: onSnapshotLoad throws at restart, init rejects with ESTATEMACHINE, the other group commits", async () => {
  const groups = new TwoGroups();
  let failLoad = false;
  try {
    await groups.start(() => {
      const fsm = new Counter();
      Object.assign(fsm, {
        onSnapshotLoad: () => {
          if (failLoad) throw new Error("onSnapshotLoad broke on purpose");
        },
      });
      return fsm;
    });
    const leader = await groups.leaderOf(groups.bad);
    await leader.apply(Uint8Array.of(1));
    await leader.snapshot();
    const peer = leader.peerId.toString();
    const index = groups.bad.nodes.indexOf(leader);
    await leader.shutdown();
    failLoad = true;
    const restarted = new RaftNode("bad", peer);
    const error = await restarted
      .init({
        fsm: groups.bad.fsms[index]!,
        server: groups.hosts[index]!,
        initialConf: peers.join(","),
        electionTimeoutMs: 150,
        logUri: `memory://${groups.run}/bad/${peer}/log`,
        raftMetaUri: `memory://${groups.run}/bad/${peer}/meta`,
        snapshotUri: `memory://${groups.run}/bad/${peer}/snapshot`,
        logger: groups.logger,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(RaftError.is(error), String(error));
    assert.equal(error.code, "ESTATEMACHINE");
    await groups.goodGroupCommits();
  } finally {
    await groups.stop();
  }
});
