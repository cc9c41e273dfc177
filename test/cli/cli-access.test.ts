/**
 * RaftServerOptions.cliAccess: CliService (and LearnerService) can be limited per server, as
 * braft's disable_cli limits one node: `none` refuses every change with EACCES, `loopback`
 * refuses peers off this machine; get_leader is answered either way.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CliClient } from "../../src/cli/cli-client.js";
import { RaftError } from "../../src/core/errors.js";
import { create, toBinary } from "@bufbuild/protobuf";
import { CliService, GetLeaderRequestSchema, SnapshotRequestSchema } from "../../src/rpc/gen/braft/cli_pb.js";
import { addCliServicesLimited, isLoopbackAddress } from "../../src/rpc/operator-access.js";
import { ServiceRegistry, type CallContext } from "../../src/rpc/service-registry.js";
import { startServer, stopAll } from "../rpc/helpers.js";

after(stopAll);

function refusedWith(code: string, text: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(RaftError.is(err), String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, text);
    return true;
  };
}

/** A context for a call from `remoteAddress`. */
function callFrom(remoteAddress: string): CallContext {
  return {
    service: CliService.typeName,
    method: "snapshot",
    remoteAddress,
    requestAttachment: new Uint8Array(),
    responseAttachment: undefined,
    logId: undefined,
    signal: new AbortController().signal,
  };
}

describe("CliAccess", () => {
  it("none: every change refused with EACCES, get_leader still answered", async () => {
    const server = await startServer({ cliAccess: "none" });
    const client = new CliClient({ timeoutMs: 5000, maxRetry: 0 });
    try {
      const peer = `${server.address}:0`;
      await assert.rejects(
        client.call(peer, CliService, "snapshot", { groupId: "g", peerId: peer }),
        refusedWith("EACCES", /^CliService is disabled on this server \(RaftServerOptions\.cliAccess\)/),
      );
      await assert.rejects(
        client.call(peer, CliService, "add_peer", { groupId: "g", leaderId: peer, peerId: "127.0.0.1:1:0" }),
        refusedWith("EACCES", /braft\.CliService\.add_peer/),
      );
      // Not EACCES: the group is unknown here, which is the answer get_leader owes.
      await assert.rejects(
        client.call(peer, CliService, "get_leader", { groupId: "g" }),
        refusedWith("ENOENT", /No nodes in group g/),
      );
    } finally {
      client.close();
    }
  });

  it("loopback: a call from this machine goes through to the node lookup", async () => {
    const server = await startServer({ cliAccess: "loopback" });
    const client = new CliClient({ timeoutMs: 5000, maxRetry: 0 });
    try {
      const peer = `${server.address}:0`;
      await assert.rejects(
        client.call(peer, CliService, "snapshot", { groupId: "g", peerId: peer }),
        refusedWith("ENOENT", /Fail to find node/),
      );
    } finally {
      client.close();
    }
  });

  it("loopback: a call from another machine is refused, naming where it came from", async () => {
    const from = new ServiceRegistry();
    let served = 0;
    from.addService(CliService, {
      snapshot: () => {
        served++;
        return {};
      },
      get_leader: () => ({ leaderId: "10.0.0.1:8100:0" }),
    });
    const to = new ServiceRegistry();
    addCliServicesLimited(from, to, "loopback");
    const request = toBinary(SnapshotRequestSchema, create(SnapshotRequestSchema, { groupId: "g" }));
    const leaderRequest = toBinary(GetLeaderRequestSchema, create(GetLeaderRequestSchema, { groupId: "g" }));
    const snapshot = to.lookup(CliService.typeName, "snapshot");
    const getLeader = to.lookup(CliService.typeName, "get_leader");
    assert.ok("handler" in snapshot && "handler" in getLeader);
    await assert.rejects(
      Promise.resolve().then(() => snapshot.handler(request, callFrom("10.0.0.9:41000"))),
      refusedWith("EACCES", /from loopback only on this server .*not from 10\.0\.0\.9:41000$/),
    );
    await snapshot.handler(request, callFrom("127.0.0.1:41000"));
    await snapshot.handler(request, callFrom("::1:41000"));
    assert.equal(served, 2);
    await getLeader.handler(leaderRequest, callFrom("10.0.0.9:41000"));
  });

  it("tells loopback addresses apart, IPv4, IPv6 and IPv4-mapped", () => {
    for (const ip of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
      assert.ok(isLoopbackAddress(ip), ip);
    for (const ip of ["10.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "fe80::1"]) {
      assert.ok(!isLoopbackAddress(ip), ip);
    }
  });
});
