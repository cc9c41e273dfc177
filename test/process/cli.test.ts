/**
 * The real `tsraft` command against real processes: every command end to end on a three-node
 * group plus a fourth process outside its configuration.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";
import { errorLine, okLine, tsraft } from "./run-cli.js";

const GROUP = "g1";
const peerOf = (port: number): string => `127.0.0.1:${port}:0`;
const portOf = (peer: string): number => Number(peer.split(":")[1]);

test("TsraftCommand: every command of the tsraft CLI against a running group", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-cli-"));
  const ports = await freePorts(4);
  const voters = ports.slice(0, 3);
  const newcomer = ports[3] as number;
  const cluster = new ProcessCluster(ports, [GROUP], dataDir, voters, {
    // A longer election timeout than the other process tests: no election while CLI runs load the machine.
    args: () => ["--snapshot", "--election-ms", "600"],
  });
  const conf = voters.map(peerOf).sort().join(",");
  const all = ports.map(peerOf).sort().join(",");
  const group = `--group=${GROUP}`;
  const peersOf = async (port: number): Promise<string[]> => (await cluster.dump(port, GROUP)).peers;
  const getLeader = (c = conf) =>
    waitFor("a leader named by tsraft get_leader", async () => {
      const run = await tsraft("get_leader", group, `--conf=${c}`);
      return run.code === 0 ? okLine(run) : undefined;
    });
  try {
    await cluster.startAll();
    const leader = await getLeader();
    assert.ok(voters.map(peerOf).includes(leader), leader);
    assert.ok((await cluster.apply(GROUP, "a")) !== undefined);

    // add_peer and remove_peer of a just-added node, with the new node in --conf
    // (an earlier CLI failed this with ENOENT half the time).
    const x = peerOf(newcomer);
    const added = okLine(await tsraft("add_peer", group, `--conf=${conf}`, `--peer=127.0.0.1:${newcomer}`));
    assert.equal(added, `Added peer ${x} to group ${GROUP}: old=${conf} new=${conf},${x}`);
    assert.deepEqual(await peersOf(portOf(leader)), [...voters.map(peerOf), x].sort());
    const removed = okLine(await tsraft("remove_peer", group, `--conf=${all}`, `--peer=${x}`));
    assert.equal(removed, `Removed peer ${x} from group ${GROUP}: old=${all} new=${conf}`);
    assert.deepEqual(await peersOf(portOf(leader)), conf.split(","));

    // Learners (tsraft extension): the newcomer receives the log without voting.
    const learned = okLine(await tsraft("add_learners", group, `--conf=${conf}`, `--learners=${x}`));
    assert.equal(learned, `Added learners ${x} of group ${GROUP}: old=- new=${x}`);
    await waitFor("the learner to apply the log", async () =>
      (await cluster.dump(newcomer, GROUP)).applied.includes("a") ? true : undefined,
    );
    assert.deepEqual((await cluster.dump(portOf(leader), GROUP)).learners, [x]);
    const unlearned = okLine(await tsraft("remove_learners", group, `--conf=${conf}`, `--learners=${x}`));
    assert.equal(unlearned, `Removed learners ${x} of group ${GROUP}: old=${x} new=-`);

    // change_peers: replace one voter with the newcomer, then back.
    const [v0, v1] = voters.map(peerOf) as [string, string];
    const swapped = [v0, v1, x].sort().join(",");
    const changed = okLine(await tsraft("change_peers", group, `--conf=${conf}`, `--new_peers=${swapped}`));
    assert.equal(changed, `Changed peers of group ${GROUP}: old=${conf} new=${swapped}`);
    const current = await getLeader(all);
    assert.deepEqual(await peersOf(portOf(current)), swapped.split(","));
    okLine(await tsraft("change_peers", group, `--conf=${all}`, `--new_peers=${conf}`));
    const back = await getLeader(all);
    assert.deepEqual(await peersOf(portOf(back)), conf.split(","));

    // transfer_leader to a follower; then to the leader itself is a no-op.
    const from = await getLeader();
    const to = voters.map(peerOf).find((p) => p !== from) as string;
    const moved = okLine(await tsraft("transfer_leader", group, `--conf=${conf}`, `--peer=${to}`));
    assert.equal(moved, `Transferred leadership of group ${GROUP} from ${from} to ${to}`);
    assert.equal(await getLeader(), to);
    const noop = okLine(await tsraft("transfer_leader", group, `--conf=${conf}`, `--peer=${to}`));
    assert.equal(noop, `Peer ${to} is already the leader of group ${GROUP}`);

    // snapshot on a follower.
    const follower = voters.map(peerOf).find((p) => p !== to) as string;
    const snap = okLine(await tsraft("snapshot", group, `--peer=${follower}`));
    assert.equal(snap, `Snapshot taken on ${follower} in group ${GROUP}`);
    assert.ok((await cluster.dump(portOf(follower), GROUP)).lastSnapshotIndex > 0);

    // reset_peer on the newcomer (now outside the group): it becomes a group of its own.
    const reset = okLine(await tsraft("reset_peer", group, `--peer=${x}`, `--new_peers=${x}`));
    assert.equal(reset, `Reset peers of ${x} in group ${GROUP} to ${x}`);
    await waitFor("the reset node to lead alone", async () => {
      const dump = await cluster.dump(newcomer, GROUP);
      return dump.state === "LEADER" && dump.peers.join() === x ? true : undefined;
    });
    assert.equal(await getLeader(), to, "the group itself is untouched");

    // status: the page comes from another work item; here only its plain HTTP fetch is checked.
    const status = await tsraft("status", `--peer=${to}`, group);
    if (status.code === 0) assert.ok(status.stdout.length > 0);
    else
      assert.match(
        errorLine(status),
        /^tsraft: status failed: ENOENT: GET http:\/\/.*\/raft_stat\/g1: HTTP 404/,
      );
  } finally {
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
