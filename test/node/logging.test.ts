/**
 * Logging: a capturing logger sees elections and leader changes; the default logger filters by
 * level and writes one parsable line per event; nothing is logged per entry at the default level.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  RaftNode,
  createDefaultLogger,
  getLogger,
  setLogger,
  type LogFields,
  type LogLevel,
  type Logger,
  type Iterator,
  type StateMachine,
} from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { pollUntil } from "../support/poll.js";

interface Line {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/** Keeps every line at or above `level`; counts calls below it (which guarded callers never make). */
class CapturingLogger implements Logger {
  readonly lines: Line[] = [];
  callsBelowLevel = 0;
  private readonly order: LogLevel[] = ["debug", "info", "warn", "error"];

  constructor(private readonly level: LogLevel = "info") {}

  isLevelEnabled(level: LogLevel): boolean {
    return this.order.indexOf(level) >= this.order.indexOf(this.level);
  }
  debug(message: string, fields?: LogFields): void {
    this.record("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.record("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.record("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.record("error", message, fields);
  }
  private record(level: LogLevel, message: string, fields: LogFields = {}): void {
    if (!this.isLevelEnabled(level)) this.callsBelowLevel++;
    else this.lines.push({ level, message, fields });
  }
  find(message: string): Line[] {
    return this.lines.filter((line) => line.message === message);
  }
}

class Noop implements StateMachine {
  onApply(iter: Iterator): void {
    for (const entry of iter) void entry;
  }
}

const peers = ["127.0.0.1:9101:0", "127.0.0.1:9102:0", "127.0.0.1:9103:0"];

async function cluster(
  loggerOf: (peer: string) => Logger | undefined,
  electionTimeoutMs = 150,
): Promise<{ nodes: RaftNode[]; leader: () => RaftNode | undefined }> {
  const network = new InProcessNetwork();
  const run = `logging-${process.pid}-${Math.random()}`;
  const nodes = await Promise.all(
    peers.map(async (peer) => {
      const node = new RaftNode("logged", peer);
      const logger = loggerOf(peer);
      await node.init({
        fsm: new Noop(),
        server: network.host(peer.split(":").slice(0, 2).join(":")),
        initialConf: peers.join(","),
        electionTimeoutMs,
        logUri: `memory://${run}/${peer}/log`,
        raftMetaUri: `memory://${run}/${peer}/meta`,
        ...(logger === undefined ? {} : { logger }),
      });
      return node;
    }),
  );
  return { nodes, leader: () => nodes.find((n) => n.isLeader()) };
}

test("Logging: a capturing logger sees elections and a leader change, with the node's group and peer", async () => {
  const loggers = new Map(peers.map((peer) => [peer, new CapturingLogger("info")]));
  const { nodes, leader } = await cluster((peer) => loggers.get(peer));
  try {
    await pollUntil("a leader", () => leader() !== undefined);
    const first = leader()!;
    const firstLog = loggers.get(first.peerId.toString())!;
    await pollUntil(
      "the election win to be logged",
      () => firstLog.find("election won: leading").length === 1,
    );
    const won = firstLog.find("election won: leading")[0]!;
    assert.equal(won.fields["group"], "logged");
    assert.equal(won.fields["peer"], first.peerId.toString());
    assert.ok(firstLog.find("election started").length >= 1, "the election was logged");
    assert.ok(firstLog.find("term changed").length >= 1, "the term change was logged");

    // The leader goes away: a follower wins the next term and the other follows it.
    await first.shutdown();
    const survivors = nodes.filter((n) => n !== first);
    await pollUntil("a new leader", () => survivors.some((n) => n.isLeader()));
    const second = survivors.find((n) => n.isLeader())!;
    const other = survivors.find((n) => n !== second)!;
    const secondLog = loggers.get(second.peerId.toString())!;
    const otherLog = loggers.get(other.peerId.toString())!;
    await pollUntil("the new leader's win", () => secondLog.find("election won: leading").length >= 1);
    await pollUntil("the other follower to follow it", () =>
      otherLog.find("following a new leader").some((l) => l.fields["leader"] === second.peerId.toString()),
    );
    const terms = secondLog.find("election won: leading").map((l) => Number(l.fields["term"]));
    assert.ok(Math.max(...terms) > Number(won.fields["term"]), "a later term");
    assert.ok(firstLog.find("node shut down").length === 1);
    for (const log of loggers.values()) assert.equal(log.callsBelowLevel, 0, "debug lines are guarded");
  } finally {
    await Promise.all(nodes.map((n) => n.shutdown()));
  }
});

test("Logging: at the default level, 1,000 applies log nothing", async () => {
  const capture = new CapturingLogger("info");
  // A long election timeout: a loaded machine must not start an (honestly logged) election mid-test.
  const { nodes, leader } = await cluster(() => capture, 2000);
  try {
    await pollUntil("a leader", () => leader() !== undefined);
    const node = leader()!;
    await node.apply(Uint8Array.of(0)); // the term's first entry: followers settle
    await pollUntil("followers to catch up", () =>
      nodes.every((n) => n.getStatus().appliedIndex === node.getStatus().lastIndex),
    );
    const before = capture.lines.length;
    const applies: Promise<unknown>[] = [];
    for (let i = 0; i < 1000; i++) {
      applies.push(node.apply(Uint8Array.of(i & 0xff)));
      if (i % 100 === 99) await Promise.all(applies.splice(0));
    }
    await Promise.all(applies);
    assert.deepEqual(capture.lines.slice(before), [], "no line during the applies");
    assert.equal(capture.callsBelowLevel, 0, "no debug call reached the logger");
  } finally {
    await Promise.all(nodes.map((n) => n.shutdown()));
  }
});

test("Logging: setLogger reaches nodes without their own logger, NodeOptions.logger wins", async () => {
  const processWide = new CapturingLogger("info");
  const own = new CapturingLogger("info");
  const previous = getLogger();
  setLogger(processWide);
  try {
    const { nodes, leader } = await cluster((peer) => (peer === peers[0] ? own : undefined));
    try {
      await pollUntil("a leader", () => leader() !== undefined);
      await pollUntil("start lines", () => processWide.find("node started").length === 2);
      assert.equal(own.find("node started").length, 1);
      assert.equal(own.find("node started")[0]!.fields["peer"], peers[0]);
      assert.ok(processWide.find("node started").every((l) => l.fields["peer"] !== peers[0]));
    } finally {
      await Promise.all(nodes.map((n) => n.shutdown()));
    }
  } finally {
    setLogger(previous);
  }
});

test("Logging: the default logger filters by level and writes logfmt or JSON lines", () => {
  const out: string[] = [];
  const warnOnly = createDefaultLogger({ level: "warn", write: (line) => out.push(line) });
  warnOnly.debug("d");
  warnOnly.info("i");
  warnOnly.warn("disk slow", { file: "/data/log 1", ms: 12 });
  warnOnly.error("broken", { error: new Error("EIO: bad") });
  assert.equal(out.length, 2);
  assert.equal(warnOnly.isLevelEnabled?.("info"), false);
  assert.equal(warnOnly.isLevelEnabled?.("error"), true);
  assert.match(out[0]!, /^time=\S+ level=warn msg="disk slow" file="\/data\/log 1" ms=12\n$/);
  assert.match(out[1]!, /level=error msg=broken error="EIO: bad"\n$/);

  const json: string[] = [];
  const debug = createDefaultLogger({ level: "debug", format: "json", write: (line) => json.push(line) });
  debug.debug("rpc failed", { to: "127.0.0.1:1:0", id: 7n });
  const record = JSON.parse(json[0]!) as Record<string, unknown>;
  assert.equal(record["level"], "debug");
  assert.equal(record["msg"], "rpc failed");
  assert.equal(record["to"], "127.0.0.1:1:0");
  assert.equal(record["id"], "7");

  const silent: string[] = [];
  createDefaultLogger({ level: "silent", write: (line) => silent.push(line) }).error("x");
  assert.equal(silent.length, 0);
});
