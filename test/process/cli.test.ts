/**
 * The real `tsraft` command against real processes, membership: get_leader, add_peer and
 * remove_peer of a fourth process, the learner commands and change_peers.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { waitFor } from "./process-cluster.js";
import { GROUP, portOf, withCliCluster } from "./cli-fixture.js";
import { okLine, tsraft } from "./run-cli.js";

const group = `--group=${GROUP}`;

test("TsraftMembership: get_leader, add_peer, remove_peer, learners and change_peers through the CLI", () =>
  withCliCluster(async ({ cluster, voters, newcomer: x, conf, all, getLeader, peersOf }) => {
    const leader = await getLeader();
    assert.ok(voters.includes(leader), leader);
    assert.ok((await cluster.apply(GROUP, "a")) !== undefined);

    // add_peer and remove_peer of a just-added node, with the new node in --conf
    // (an earlier CLI failed this with ENOENT half the time).
    const added = okLine(await tsraft("add_peer", group, `--conf=${conf}`, `--peer=127.0.0.1:${portOf(x)}`));
    assert.equal(added, `Added peer ${x} to group ${GROUP}: old=${conf} new=${conf},${x}`);
    assert.deepEqual(await peersOf(leader), all.split(","));
    const removed = okLine(await tsraft("remove_peer", group, `--conf=${all}`, `--peer=${x}`));
    assert.equal(removed, `Removed peer ${x} from group ${GROUP}: old=${all} new=${conf}`);
    assert.deepEqual(await peersOf(leader), conf.split(","));

    // Learners (tsraft extension): the newcomer receives the log without voting.
    const learned = okLine(await tsraft("add_learners", group, `--conf=${conf}`, `--learners=${x}`));
    assert.equal(learned, `Added learners ${x} of group ${GROUP}: old=- new=${x}`);
    await waitFor("the learner to apply the log", async () =>
      (await cluster.dump(portOf(x), GROUP)).applied.includes("a") ? true : undefined,
    );
    assert.deepEqual((await cluster.dump(portOf(leader), GROUP)).learners, [x]);
    const unlearned = okLine(await tsraft("remove_learners", group, `--conf=${conf}`, `--learners=${x}`));
    assert.equal(unlearned, `Removed learners ${x} of group ${GROUP}: old=${x} new=-`);

    // change_peers: replace one voter (perhaps the leader) with the newcomer, then back.
    const [v0, v1] = voters as [string, string];
    const swapped = [v0, v1, x].sort().join(",");
    const changed = okLine(await tsraft("change_peers", group, `--conf=${conf}`, `--new_peers=${swapped}`));
    assert.equal(changed, `Changed peers of group ${GROUP}: old=${conf} new=${swapped}`);
    assert.deepEqual(await peersOf(await getLeader(all)), swapped.split(","));
    okLine(await tsraft("change_peers", group, `--conf=${all}`, `--new_peers=${conf}`));
    assert.deepEqual(await peersOf(await getLeader(all)), conf.split(","));
  }));
