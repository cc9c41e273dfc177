/**
 * The real `tsraft` command against real processes, node operations: transfer_leader, snapshot,
 * reset_peer and status.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "./process-cluster.js";
import { GROUP, portOf, withCliCluster } from "./cli-fixture.js";
import { errorLine, okLine, tsraft } from "./run-cli.js";

const group = `--group=${GROUP}`;

test("TsraftNodeOps: transfer_leader, snapshot, reset_peer and status through the CLI", () =>
  withCliCluster(async ({ cluster, voters, newcomer: x, conf, getLeader }) => {
    const from = await getLeader();
    assert.ok((await cluster.apply(GROUP, "a")) !== undefined);

    // transfer_leader to a follower; then to the leader itself is a no-op.
    const to = voters.find((p) => p !== from) as string;
    const moved = okLine(await tsraft("transfer_leader", group, `--conf=${conf}`, `--peer=${to}`));
    assert.equal(moved, `Transferred leadership of group ${GROUP} from ${from} to ${to}`);
    assert.equal(await getLeader(), to);
    const noop = okLine(await tsraft("transfer_leader", group, `--conf=${conf}`, `--peer=${to}`));
    assert.equal(noop, `Peer ${to} is already the leader of group ${GROUP}`);

    // snapshot on a follower.
    const follower = voters.find((p) => p !== to) as string;
    const snap = okLine(await tsraft("snapshot", group, `--peer=${follower}`));
    assert.equal(snap, `Snapshot taken on ${follower} in group ${GROUP}`);
    assert.ok((await cluster.dump(portOf(follower), GROUP)).lastSnapshotIndex > 0);

    // reset_peer on the fourth process (outside the group): it becomes a group of its own.
    const reset = okLine(await tsraft("reset_peer", group, `--peer=${x}`, `--new_peers=${x}`));
    assert.equal(reset, `Reset peers of ${x} in group ${GROUP} to ${x}`);
    await waitFor("the reset node to lead alone", async () => {
      const dump = await cluster.dump(portOf(x), GROUP);
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
  }));
