/** raft_rpc_channel_connect_timeout_ms: the connect timeout of the channels a RaftServer dials. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { flags } from "../../src/node/flags.js";
import { RpcDefaults } from "../../src/rpc/options.js";
import { channelOptionsOf } from "../../src/rpc/raft-server.js";

test("raft_rpc_channel_connect_timeout_ms: a server's channels connect within the flag unless the server sets its own", () => {
  const saved = flags.raft_rpc_channel_connect_timeout_ms;
  try {
    flags.raft_rpc_channel_connect_timeout_ms = 123;
    assert.equal(channelOptionsOf({}).connectTimeoutMs, 123);
    assert.equal(channelOptionsOf({ channel: { connectTimeoutMs: 50 } }).connectTimeoutMs, 50);
    const tls = { key: "k", cert: "c" };
    assert.equal(
      channelOptionsOf({ tls }).connectTimeoutMs,
      RpcDefaults.connectTimeoutMs,
      "a TLS handshake gets at least the default",
    );
  } finally {
    flags.raft_rpc_channel_connect_timeout_ms = saved;
  }
});
