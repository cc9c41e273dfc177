/**
 * The package's entry points as a user imports them (package self-reference through "exports"):
 * `tsraft/client` and the root give the same client objects, and the root exports what the docs
 * tell users to configure.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

test("tsraft/client and tsraft export the same client; the root has the throttle and storage factories", async () => {
  // Specifiers in variables: the compiler must not resolve them (dist/ does not exist before the
  // first build); Node resolves them at run time through package.json "exports".
  const [clientEntry, rootEntry] = ["tsraft/client", "tsraft"];
  const client = (await import(clientEntry)) as Record<string, unknown>;
  const root = (await import(rootEntry)) as Record<string, unknown>;
  for (const name of [
    "RouteTable",
    "ClusterClient",
    "CliClient",
    "cli",
    "Channel",
    "callMethod",
    "PeerId",
    "RaftError",
  ]) {
    assert.ok(client[name] !== undefined, `tsraft/client exports ${name}`);
    assert.equal(root[name], client[name], `tsraft re-exports the same ${name}`);
  }
  const cli = client["cli"] as Record<string, unknown>;
  for (const name of [
    "getLeader",
    "addPeer",
    "removePeer",
    "changePeers",
    "resetPeer",
    "snapshot",
    "transferLeader",
  ]) {
    assert.equal(typeof cli[name], "function", `cli.${name}`);
  }
  for (const name of [
    "ThroughputSnapshotThrottle",
    "createLogStorageFromUri",
    "createSnapshotStorageFromUri",
  ]) {
    assert.equal(typeof root[name], "function", `tsraft exports ${name}`);
  }
});
