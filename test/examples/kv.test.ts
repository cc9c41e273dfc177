/**
 * The kv example run as a user would: `node dist/examples/kv/start.js` starts three processes
 * (ports picked by the system, one data directory each), then plain fetch drives the HTTP API.
 * The leader is killed with SIGKILL, writes go on, the node is restarted with the command the
 * banner printed and catches up; a fourth node joins (by snapshot), one member is removed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { putWithRetry } from "../../examples/kv/kv-client.js";
import { okLine, tsraft } from "../process/run-cli.js";
import { waitFor } from "./counter-cluster.js";
import {
  KV_SERVER,
  KV_START,
  Proc,
  getMembers,
  parseBanner,
  read,
  urlOf,
  waitForLeader,
  write,
  writeUntilOk,
  type BannerNode,
} from "./kv-processes.js";

const ELECTION_TIMEOUT = "--election-timeout-ms=500";
const dataDir = mkdtempSync(join(tmpdir(), "tsraft-kv-"));
const ownNodes: Proc[] = [];
let start: Proc;
let nodes: BannerNode[] = [];
/** URLs of the nodes alive now. */
let alive: string[] = [];
/** URLs of start.js's nodes that were killed (and restarted by the test). */
const replaced = new Set<string>();

function startNode(args: readonly string[]): Proc {
  const proc = Proc.spawn(KV_SERVER, [...args, ELECTION_TIMEOUT]);
  ownNodes.push(proc);
  return proc;
}

before(async () => {
  start = Proc.spawn(KV_START, [`--data-dir=${dataDir}`, ELECTION_TIMEOUT]);
  await start.waitForLine(/^\[kv\] cluster ready/);
  nodes = parseBanner(start.lines);
  alive = nodes.map((node) => node.url);
});

after(async () => {
  const code = await start.stop("SIGINT");
  await Promise.all(ownNodes.map((proc) => proc.stop()));
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(code, 0, start.lines.join("\n"));
});

describe("KvService (examples/kv, three processes)", () => {
  it("start.js prints each node's URL, PID and data directory, one directory per node", () => {
    assert.equal(nodes.length, 3, start.lines.join("\n"));
    assert.equal(new Set(nodes.map((node) => node.dataDir)).size, 3);
    assert.equal(new Set(nodes.map((node) => node.url)).size, 3);
  });

  it("a write on a follower answers 307 to the leader; following it, the write applies", async () => {
    const leader = await waitForLeader(alive[0] ?? "", 3);
    const follower = alive.find((url) => url !== leader) ?? "";
    const redirect = await write(follower, "greeting", "hello", { redirect: "manual" });
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get("location"), `${leader}/kv/greeting`);
    assert.equal(redirect.body.error, "EPERM");
    assert.equal(redirect.body.outcome, "refused");
    const followed = await write(follower, "greeting", "hello");
    assert.equal(followed.status, 200, JSON.stringify(followed.body));
    assert.equal(followed.body.previous, null);
  });

  it("GET is linearizable on every node; ?stale=1 reads the node's own state; DELETE removes", async () => {
    for (const url of alive) assert.equal(await read(url, "greeting"), "hello", url);
    const last = alive.at(-1) ?? "";
    await waitFor("the stale read to catch up", async () =>
      (await read(last, "greeting", true)) === "hello" ? true : undefined,
    );
    const deleted = await write(alive[0] ?? "", "greeting", undefined);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.previous, "hello");
    for (const url of alive) assert.equal(await read(url, "greeting"), undefined, url);
  });

  it("a retried write with the same Idempotency-Key applies once and answers the first time's previous value", async () => {
    const url = alive[1] ?? "";
    const first = await write(url, "x", "1", { requestId: "client-7/1" });
    await write(url, "x", "2", { requestId: "client-7/2" });
    const retry = await write(url, "x", "1", { requestId: "client-7/1" });
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("idempotent-replayed"), "true");
    assert.equal(first.body.previous, null);
    assert.equal(
      retry.body.previous,
      null,
      "what the first attempt found, not the value of the write after it",
    );
    assert.equal(await read(url, "x"), "2", "the retry did not apply again");
  });

  it("after kill -9 of the leader, writes go on; restarted with the printed command, it catches up", async () => {
    const leaderUrl = await waitForLeader(alive[0] ?? "", 3);
    const leader = nodes.find((node) => node.url === leaderUrl) as BannerNode;
    process.kill(leader.pid, "SIGKILL");
    await start.waitForLine(new RegExp(`^\\[kv\\] ${leader.name} exited \\(SIGKILL\\); restart it`));
    alive = alive.filter((url) => url !== leaderUrl);
    replaced.add(leaderUrl);
    for (let i = 0; i < 5; i++) {
      const answer = await putWithRetry(alive, `after-kill-${i}`, String(i), 30_000);
      assert.equal(answer.previous, null);
    }
    const newLeader = await waitForLeader(alive[0] ?? "", 3);
    assert.notEqual(newLeader, leaderUrl);

    const restarted = startNode([`--data-dir=${leader.dataDir}`]);
    assert.equal(
      await restarted.waitForLine(/^ready (http:\S+)/),
      leaderUrl,
      "it listens at its old address",
    );
    alive.push(leaderUrl);
    await waitFor("the restarted node to apply the writes it missed", async () =>
      (await read(leaderUrl, "after-kill-4", true)) === "4" ? true : undefined,
    );
    assert.equal(await read(leaderUrl, "x", true), "2", "and what it had before");
  });

  it("a fourth node joins by POST /members (installing a snapshot); a member leaves by DELETE; the tsraft CLI adds it back and removes it", async () => {
    const leader = await waitForLeader(alive[0] ?? "", 3);
    for (const round of [1, 2]) {
      await writeUntilOk(alive, `snap-${round}`, String(round), `snap/${round}`);
      const snapshot = await fetch(`${leader}/snapshot`, { method: "POST" });
      assert.equal(snapshot.status, 200, await snapshot.text());
    }
    const fourth = startNode([`--data-dir=${join(dataDir, "n4")}`, `--join=${alive[1] ?? ""}`]);
    const fourthUrl = await fourth.waitForLine(/^ready (http:\S+)/);
    await fourth.waitForLine(/^(joined)/);
    assert.equal((await getMembers(leader)).peers.length, 4);
    assert.equal(await read(fourthUrl, "snap-2"), "2", "the new node reads through the leader");
    await waitFor("the new node's own state", async () =>
      (await read(fourthUrl, "x", true)) === "2" ? true : undefined,
    );

    const leaving = nodes.find(
      (node) => alive.includes(node.url) && !replaced.has(node.url) && node.url !== leader,
    ) as BannerNode;
    const removed = await fetch(`${fourthUrl}/members/${encodeURIComponent(`${leaving.url.slice(7)}:0`)}`, {
      method: "DELETE",
    });
    assert.equal(removed.status, 200, await removed.text());
    const members = await getMembers(leader);
    assert.equal(members.peers.length, 3);
    assert.ok(!members.peers.map(urlOf).includes(leaving.url));
    // The same over braft's CliService, with the tsraft command: back in, then out again.
    const leavingPeer = `${leaving.url.slice("http://".length)}:0`;
    const conf = members.peers.join(",");
    assert.match(
      okLine(await tsraft("add_peer", "--group=kv", `--conf=${conf}`, `--peer=${leavingPeer}`)),
      /^Added peer/,
    );
    assert.equal((await getMembers(leader)).peers.length, 4);
    const withIt = `${conf},${leavingPeer}`;
    assert.match(
      okLine(await tsraft("remove_peer", "--group=kv", `--conf=${withIt}`, `--peer=${leavingPeer}`)),
      /^Removed peer/,
    );
    assert.equal((await getMembers(leader)).peers.length, 3);
    process.kill(leaving.pid, "SIGTERM");
    alive = [...alive.filter((url) => url !== leaving.url), fourthUrl];
    await writeUntilOk(alive, "after-remove", "ok", "remove/1");
    for (const url of alive) assert.equal(await read(url, "after-remove"), "ok", url);
  });

  it("Ctrl-C stops the nodes cleanly; the same command restarts them from their data", async () => {
    assert.equal(await start.stop("SIGINT"), 0, start.lines.join("\n"));
    assert.match(start.lines.at(-1) ?? "", /stopped cleanly/);
    await Promise.all(ownNodes.map((proc) => proc.stop()));
    start = Proc.spawn(KV_START, [`--data-dir=${dataDir}`, ELECTION_TIMEOUT]);
    await start.waitForLine(/^\[kv\] cluster ready/);
    const again = parseBanner(start.lines);
    assert.deepEqual(
      again.map((node) => node.url),
      nodes.map((node) => node.url),
      "each node listens where it did",
    );
    // The group is two of start.js's nodes and n4 (not running now): two of three, a majority.
    const member = alive.find((url) => again.some((node) => node.url === url)) ?? "";
    const value = await waitFor("a linearizable read once a leader is elected", () =>
      read(member, "after-remove"),
    );
    assert.equal(value, "ok");
  });
});
