/**
 * A leader's per-follower replication state (core/progress.ts): answers that arrive after the
 * leader moved on (an abandoned epoch) must not break `match < next`, nor restore a match point
 * the follower has since said it lost.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Progress } from "../../src/core/progress.js";

test("LateInstallAfterLostLog: an install's success from an abandoned epoch, after the follower said it lost its log, leaves match at what it still holds (sim seed 773)", () => {
  const progress = new Progress(343, 0);
  progress.onAccepted(342, 0);
  progress.becomeSnapshot(5);
  // A heartbeat refused with last index 0: the follower's disk was wiped; a new epoch starts.
  progress.onLostLog(0, 10);
  progress.onSnapshotDone(5, true, 342, 11);
  assert.equal(progress.matchIndex, 0, "the stale success does not restore match 342");
  assert.ok(
    progress.matchIndex < progress.nextIndex,
    `match ${progress.matchIndex} < next ${progress.nextIndex}`,
  );
});

test("InstallDone: an install's success in the current epoch moves match to its last index and probes after it", () => {
  const progress = new Progress(1, 0);
  progress.becomeSnapshot(5);
  progress.onSnapshotDone(5, true, 342, 6);
  assert.equal(progress.matchIndex, 342);
  assert.equal(progress.nextIndex, 343);
  assert.equal(progress.state, "probe");
});
