/**
 * RaftServer's exposure defaults: `start(port)` listens on loopback unless RaftServerOptions.host
 * says otherwise (brpc listens on every interface), and the start line says where the port can
 * be reached from and who may use the CLI and change flags.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LogFields, Logger } from "../../src/env/logger.js";
import { RaftServer } from "../../src/server.js";
import type { RaftServerOptions } from "../../src/rpc/options.js";

/** Starts a server on port 0 with `options`, returns its address and its start line's fields. */
async function startOnBarePort(options: RaftServerOptions) {
  const lines: { message: string; fields: LogFields | undefined }[] = [];
  const record = (message: string, fields?: LogFields): void => void lines.push({ message, fields });
  const logger: Logger = { debug: record, info: record, warn: record, error: record };
  const server = new RaftServer({ ...options, logger });
  try {
    await server.start(0);
    const started = lines.find((l) => l.message === "raft server listening");
    return { address: server.address, fields: started?.fields };
  } finally {
    await server.stop();
  }
}

test("ServerHostDefault: start(port) listens on loopback and says so; host and explicit addresses override", async () => {
  const loopback = await startOnBarePort({});
  assert.match(loopback.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(loopback.fields, {
    address: loopback.address,
    reachable_from: "this machine only (loopback)",
    tls: "off",
    cli: "any",
    flag_changes: "loopback",
  });
  const everywhere = await startOnBarePort({ host: "0.0.0.0", cliAccess: "loopback", flagChanges: "none" });
  assert.match(everywhere.address, /^0\.0\.0\.0:\d+$/);
  assert.deepEqual(everywhere.fields, {
    address: everywhere.address,
    reachable_from: "every network interface",
    tls: "off",
    cli: "loopback",
    flag_changes: "none",
  });
  const explicit = new RaftServer({ host: "0.0.0.0", logger: silent });
  try {
    await explicit.start("127.0.0.1:0");
    assert.match(explicit.address, /^127\.0\.0\.1:\d+$/, "an ip:port ignores host");
  } finally {
    await explicit.stop();
  }
});

const ignore = (): void => undefined;
const silent: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
