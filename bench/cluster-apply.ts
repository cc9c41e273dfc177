/**
 * A focused bench of the whole write path in one process: three RaftServers on loopback TCP,
 * local:// storage with fsync on, `--clients` concurrent appliers of `--bytes` payloads on the
 * leader for `--duration-ms`, repeated `--rounds` times. Prints one JSON line per round and the
 * medians of ops/s and of CPU milliseconds per 1000 ops (this process: all three nodes); the CPU
 * figure is the steadier one on a shared machine. Written to compare a build with and without instrumentation (metrics, logging) on
 * the same machine: it uses only the public API both builds share.
 *
 *   npm run -s build && node dist/bench/cluster-apply.js [--clients 64] [--bytes 256] [--duration-ms 3000] [--rounds 5]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RaftNode, RaftServer, type Iterator, type StateMachine } from "../src/index.js";

const { values } = parseArgs({
  options: {
    clients: { type: "string", default: "64" },
    bytes: { type: "string", default: "256" },
    "duration-ms": { type: "string", default: "3000" },
    rounds: { type: "string", default: "5" },
  },
});
const clients = Number(values.clients);
const payloadBytes = Number(values.bytes);
const durationMs = Number(values["duration-ms"]);
const rounds = Number(values.rounds);

class Sink implements StateMachine {
  applied = 0;
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      void entry;
      this.applied++;
    }
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "tsraft-cluster-apply-"));
  const servers = [new RaftServer(), new RaftServer(), new RaftServer()];
  await Promise.all(servers.map((s) => s.start("127.0.0.1:0")));
  const peers = servers.map((s) => `${s.address}:0`);
  const nodes = await Promise.all(
    servers.map(async (server, i) => {
      const node = new RaftNode("bench", peers[i] as string);
      const dir = join(root, `n${i}`);
      await node.init({
        fsm: new Sink(),
        server,
        initialConf: peers.join(","),
        electionTimeoutMs: 2000,
        logUri: `local://${dir}/log`,
        raftMetaUri: `local://${dir}/meta`,
      });
      return node;
    }),
  );
  try {
    let leader: RaftNode | undefined;
    while ((leader = nodes.find((n) => n.isLeader())) === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const payload = new Uint8Array(payloadBytes).fill(7);
    const rates: number[] = [];
    const cpuPer1000: number[] = [];
    for (let round = 0; round < rounds; round++) {
      let ops = 0;
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      const client = async (): Promise<void> => {
        while (performance.now() - start < durationMs) {
          await (leader as RaftNode).apply(payload);
          ops++;
        }
      };
      await Promise.all(Array.from({ length: clients }, client));
      const seconds = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      const opsPerS = Math.round(ops / seconds);
      const cpuMsPer1000Ops = Math.round(((cpu.user + cpu.system) / ops) * 100) / 100;
      rates.push(opsPerS);
      cpuPer1000.push(cpuMsPer1000Ops);
      console.log(
        JSON.stringify({ bench: "cluster-apply", round, clients, payloadBytes, opsPerS, cpuMsPer1000Ops }),
      );
    }
    const median = (xs: number[]): number | undefined =>
      [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const medianOpsPerS = median(rates);
    const medianCpuMsPer1000Ops = median(cpuPer1000);
    console.log(
      JSON.stringify({
        bench: "cluster-apply",
        clients,
        payloadBytes,
        rounds,
        medianOpsPerS,
        medianCpuMsPer1000Ops,
      }),
    );
  } finally {
    await Promise.all(nodes.map((n) => n.shutdown()));
    await Promise.all(servers.map((s) => s.stop()));
    await rm(root, { recursive: true, force: true });
  }
}

await main();
