/**
 * The real `tsraft` command's failures against real processes: one line on stderr, nothing on
 * stdout, exit code 1 for a refused or failed operation and 2 for a bad command line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";
import { errorLine, okLine, tsraft } from "./run-cli.js";

const peerOf = (port: number): string => `127.0.0.1:${port}:0`;

test("TsraftCommandErrors: wrong group, unreachable peer, non-leader, disableCli, timeout, bad flags", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-cli-errors-"));
  const [p0, p1, p2, locked, dead] = (await freePorts(5)) as [number, number, number, number, number];
  const cluster = new ProcessCluster([p0, p1, p2], ["g1"], dataDir);
  const lockedNode = new ProcessCluster([locked], ["g1"], dataDir, [locked], {
    args: () => ["--disable-cli"],
  });
  const conf = `--conf=${[p0, p1, p2].map(peerOf).join(",")}`;
  try {
    await Promise.all([cluster.startAll(), lockedNode.startAll()]);
    const leaderNow = (): Promise<string> =>
      waitFor("a leader", async () => {
        const run = await tsraft("get_leader", "--group=g1", conf);
        return run.code === 0 ? okLine(run) : undefined;
      });
    const x = peerOf(dead);
    const checks: [string, string[], RegExp, number?][] = [
      [
        "wrong group",
        ["add_peer", "--group=nope", conf, `--peer=${x}`],
        /^tsraft: add_peer failed: ENOENT: cannot find the leader of group nope: \[127\.0\.0\.1:\d+:0\] ENOENT No nodes in group nope, /,
      ],
      [
        "unreachable peer",
        ["remove_peer", "--group=g1", `--conf=${x}`, `--peer=${x}`],
        /^tsraft: remove_peer failed: EHOSTUNREACH: cannot find the leader of group g1: .*ECONNREFUSED/,
      ],
      [
        "unreachable snapshot target",
        ["snapshot", "--group=g1", `--peer=${x}`],
        /^tsraft: snapshot failed: EHOSTUNREACH: /,
      ],
      [
        "disableCli",
        ["snapshot", "--group=g1", `--peer=${peerOf(locked)}`],
        /^tsraft: snapshot failed: EACCES: CliService is not allowed to access node g1:127\.0\.0\.1:\d+:0$/,
      ],
      [
        "disableCli on the leader",
        ["add_peer", "--group=g1", `--conf=${peerOf(locked)}`, `--peer=${x}`],
        /^tsraft: add_peer failed: EACCES: /,
      ],
      [
        "bad peer",
        ["add_peer", "--group=g1", conf, "--peer=nohost"],
        /^tsraft: .*'nohost' is invalid\. "nohost" is not a peer id/,
        2,
      ],
      ["empty conf", ["get_leader", "--group=g1", "--conf="], /^tsraft: .*the configuration is empty$/, 2],
      [
        "empty new_peers",
        ["change_peers", "--group=g1", conf, "--new_peers=,"],
        /the configuration is empty$/,
        2,
      ],
      [
        "missing group",
        ["snapshot", `--peer=${x}`],
        /^tsraft: required option '--group <id>' not specified$/,
        2,
      ],
      [
        "missing conf",
        ["add_peer", "--group=g1", `--peer=${x}`],
        /^tsraft: add_peer: requires --conf \(or --leader\)$/,
        2,
      ],
      [
        "bad timeout",
        ["get_leader", "--group=g1", conf, "--timeout_ms=soon"],
        /"soon" is not an integer$/,
        2,
      ],
      ["unknown command", ["add_peers", "--group=g1"], /^tsraft: unknown command 'add_peers'$/, 2],
    ];
    const runs = await Promise.all(checks.map(([, args]) => tsraft(...args)));
    checks.forEach(([what, , pattern, code], i) => {
      const line = errorLine(runs[i]!, code ?? 1);
      assert.match(line, pattern, what);
      assert.doesNotMatch(line, /\bat .*\.js:\d+/, `${what}: no stack trace`);
    });
    // A non-leader target (--leader naming a follower) refuses with EPERM and names the leader.
    // Leadership may move between the lookup and the call, so look again until one is refused.
    const refused = await waitFor("a refusal by a follower", async () => {
      const leader = await leaderNow();
      const follower = [p0, p1, p2].map(peerOf).find((p) => p !== leader) as string;
      const run = await tsraft("remove_peer", "--group=g1", `--leader=${follower}`, `--peer=${x}`);
      if (run.code === 0 || run.stderr.includes("leader: unknown")) return undefined;
      return { line: errorLine(run), follower };
    });
    const match = /^tsraft: remove_peer failed: EPERM: not the leader \(leader: (127\.0\.0\.1:\d+:0)\)$/.exec(
      refused.line,
    );
    assert.ok(match !== null, refused.line);
    assert.notEqual(match[1], refused.follower);
    // get_leader is not refused by disableCli (braft), and the group's node elected itself.
    assert.equal(
      okLine(await tsraft("get_leader", "--group=g1", `--conf=${peerOf(locked)}`)),
      peerOf(locked),
    );
    // A server that accepts connections but never answers (SIGSTOP): --timeout_ms bounds the call.
    process.kill(lockedNode.pidOf(locked), "SIGSTOP");
    try {
      const run = await tsraft("snapshot", "--group=g1", `--peer=${peerOf(locked)}`, "--timeout_ms=300");
      assert.match(
        errorLine(run),
        /^tsraft: snapshot failed: ERAFTTIMEDOUT: .* timed out after 300 ms \(--timeout_ms=<ms> waits longer/,
      );
    } finally {
      process.kill(lockedNode.pidOf(locked), "SIGCONT");
    }
  } finally {
    await Promise.all([cluster.stopAll(), lockedNode.stopAll()]);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
