/** tsraft.LivenessService's heartbeat on the wire (proto/tsraft/liveness.proto). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeLivenessHeartbeat, encodeLivenessHeartbeat } from "../../src/rpc/liveness-codec.js";

test("LivenessHeartbeatCodec: gone and wake notices round-trip; a heartbeat without them decodes with none", () => {
  const heartbeat = {
    from: "127.0.0.1:8100",
    incarnation: 2 ** 40 + 3,
    goneLeaders: ["g1\u0000127.0.0.1:8100:0"],
    wakeLeaders: ["g2\u0000127.0.0.1:8101:0", "g3\u0000127.0.0.1:8101:0"],
  };
  assert.deepEqual(decodeLivenessHeartbeat(encodeLivenessHeartbeat(heartbeat)), heartbeat);
  const bare = { ...heartbeat, goneLeaders: [], wakeLeaders: [] };
  assert.deepEqual(decodeLivenessHeartbeat(encodeLivenessHeartbeat(bare)), bare);
});
