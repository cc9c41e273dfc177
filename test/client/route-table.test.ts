/** RouteTable's bookkeeping (braft's rtb semantics) and refreshLeader over a scripted provider. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { toBinary, fromBinary } from "@bufbuild/protobuf";
import { RaftError, RouteTable, type ChannelProvider } from "../../src/index.js";
import { GetLeaderRequestSchema, GetLeaderResponseSchema } from "../../src/rpc/gen/braft/cli_pb.js";

const A = "127.0.0.1:8100:0";
const B = "127.0.0.1:8101:0";
const C = "127.0.0.1:8102:0";

/** get_leader answered by `answer(endpoint)`; counts the calls. */
function provider(answer: (endpoint: string) => string | RaftError): ChannelProvider & { calls: number } {
  const p = {
    calls: 0,
    get: (endpoint: string) => ({
      call: async (_service: string, _method: string, message: Uint8Array) => {
        p.calls++;
        fromBinary(GetLeaderRequestSchema, message);
        await new Promise((resolve) => setImmediate(resolve));
        const value = answer(endpoint);
        if (value instanceof RaftError) throw value;
        const bytes = toBinary(GetLeaderResponseSchema, {
          $typeName: "braft.GetLeaderResponse",
          leaderId: value,
        });
        return { message: bytes, attachment: new Uint8Array(0) };
      },
    }),
    close: () => undefined,
  };
  return p;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return RaftError.is(error) ? error.code : String(error);
  }
  return "OK";
}

describe("RouteTable", () => {
  it("keeps a leader per group; a new configuration without it forgets it", () => {
    const routes = new RouteTable({ channels: provider(() => "") });
    routes.updateConfiguration("g", `${A},${B}`);
    assert.equal(routes.selectLeader("g"), undefined);
    routes.updateLeader("g", B);
    assert.equal(routes.selectLeader("g")?.toString(), B);
    routes.updateConfiguration("g", [A, B, C]);
    assert.equal(routes.selectLeader("g")?.toString(), B, "still a member: kept");
    routes.updateConfiguration("g", [A, C]);
    assert.equal(routes.selectLeader("g"), undefined, "removed: forgotten");
    routes.updateLeader("other", A);
    assert.deepEqual(routes.listGroups(), ["g"], "update_leader of an unknown group does nothing");
    assert.equal(routes.listConfiguration("g").toString(), `${A},${C}`);
    assert.equal(routes.removeGroup("g"), true);
    assert.equal(routes.removeGroup("g"), false);
  });

  it("refuses an unknown group (ENOENT) and an empty or malformed configuration (EINVAL)", async () => {
    const routes = new RouteTable({ channels: provider(() => "") });
    assert.equal(
      code(() => routes.selectLeader("g")),
      "ENOENT",
    );
    assert.equal(
      code(() => routes.updateConfiguration("g", "")),
      "EINVAL",
    );
    assert.equal(
      code(() => routes.updateConfiguration("g", "not-a-peer")),
      "EINVAL",
    );
    await assert.rejects(routes.refreshLeader("g"), (e: RaftError) => e.code === "ENOENT");
  });

  it("refreshLeader: the peer naming itself wins; callers meanwhile share one round", async () => {
    const stale = "127.0.0.1:8199:0";
    const channels = provider((endpoint) => (endpoint === "127.0.0.1:8101" ? B : stale));
    const routes = new RouteTable({ channels });
    routes.updateConfiguration("g", [A, B, C]);
    const [first, second] = await Promise.all([routes.refreshLeader("g"), routes.refreshLeader("g")]);
    assert.equal(first.toString(), B, "B names itself; the answer of A and C, a majority, loses");
    assert.equal(second.toString(), B);
    assert.equal(channels.calls, 3, "one get_leader per peer for both callers");
    assert.equal(routes.selectLeader("g")?.toString(), B);
  });

  it("refreshLeader with nobody naming a leader rejects with every answer and forgets the old one", async () => {
    const routes = new RouteTable({ channels: provider(() => new RaftError("EAGAIN", "Unknown leader")) });
    routes.updateConfiguration("g", [A, B]);
    routes.updateLeader("g", A);
    await assert.rejects(routes.refreshLeader("g"), (e: RaftError) => {
      assert.equal(e.code, "EAGAIN");
      assert.equal(e.outcome, "refused");
      assert.match(
        e.message,
        /\[127\.0\.0\.1:8100:0\] EAGAIN Unknown leader, \[127\.0\.0\.1:8101:0\] EAGAIN/,
      );
      return true;
    });
    assert.equal(routes.selectLeader("g"), undefined);
  });
});
