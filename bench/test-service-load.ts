/**
 * Load on the real-process test cluster (test/process/node-process.ts): 3 processes, fsync on,
 * closed-loop applies of 32-byte values through the leader. A stand-in for the counter benchmark
 * while profiling the hot path: `node dist/bench/test-service-load.js --callers 64 --seconds 10`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Channel } from "../src/rpc/channel.js";
import { ProcessCluster, freePorts, waitFor } from "../test/process/process-cluster.js";
import { runClosedLoop } from "./load-driver.js";
import { cpuSecondsOf } from "./proc-cpu.js";

const { values } = parseArgs({
  options: {
    callers: { type: "string", default: "1,8,64,256" },
    seconds: { type: "string", default: "10" },
  },
});

const dir = mkdtempSync(join(tmpdir(), "tsraft-load-"));
const ports = await freePorts(3);
const cluster = new ProcessCluster(ports, ["g1"], dir);
await cluster.startAll();
try {
  const leaderPort = await waitFor("a leader", async () => {
    const dump = await cluster.dump(ports[0]!, "g1");
    return dump.leader === "" ? undefined : Number(dump.leader.split(":")[1]);
  });
  const channel = new Channel(`127.0.0.1:${leaderPort}`);
  const body = new TextEncoder().encode(`g1\n${"x".repeat(32)}`);
  const call = async (): Promise<void> => {
    const result = await channel.call("tsraft.test.TestService", "apply", body, { timeoutMs: 5000 });
    if (result.message[6] !== 116) throw new Error("apply failed"); // {"ok":true...
  };
  await runClosedLoop(8, 2, call);
  const pid = cluster.pidOf(leaderPort);
  for (const callers of (values.callers ?? "").split(",").map(Number)) {
    const cpu0 = cpuSecondsOf(pid);
    const r = await runClosedLoop(callers, Number(values.seconds), call);
    const cpu = ((cpuSecondsOf(pid) - cpu0) / r.seconds) * 100;
    console.log(
      `clients=${callers} ops_s=${r.opsPerSecond} p50_us=${r.p50Us} p99_us=${r.p99Us} p999_us=${r.p999Us} leader_cpu_pct=${Math.round(cpu)} errors=${r.errors}`,
    );
  }
  channel.close();
} finally {
  if (process.env.TSRAFT_BENCH_TERM === "1") await cluster.terminateAll();
  await cluster.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
