/**
 * The cluster the tsraft command tests run against: three voters of group g1 with snapshot
 * storage, plus a fourth process outside the configuration, and get_leader through the command.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessCluster, freePorts, waitFor } from "./process-cluster.js";
import { okLine, tsraft } from "./run-cli.js";

export const GROUP = "g1";
export const peerOf = (port: number): string => `127.0.0.1:${port}:0`;
export const portOf = (peer: string): number => Number(peer.split(":")[1]);

export interface CliCluster {
  readonly cluster: ProcessCluster;
  readonly voters: readonly string[];
  /** The fourth process, outside the configuration. */
  readonly newcomer: string;
  /** The voters, sorted, comma-separated (the --conf value). */
  readonly conf: string;
  /** Voters and newcomer, sorted, comma-separated. */
  readonly all: string;
  /** The leader `tsraft get_leader --conf=<c>` names, once one does. */
  getLeader(c?: string): Promise<string>;
  peersOf(peer: string): Promise<string[]>;
}

/** Runs `body` against a fresh cluster, stopped and removed afterwards. */
export async function withCliCluster(body: (c: CliCluster) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "tsraft-cli-"));
  const ports = await freePorts(4);
  const voterPorts = ports.slice(0, 3);
  const cluster = new ProcessCluster(ports, [GROUP], dataDir, voterPorts, {
    // A longer election timeout than the other process tests: no election while CLI runs load the machine.
    args: () => ["--snapshot", "--election-ms", "600"],
  });
  const conf = voterPorts.map(peerOf).sort().join(",");
  const c: CliCluster = {
    cluster,
    voters: voterPorts.map(peerOf),
    newcomer: peerOf(ports[3] as number),
    conf,
    all: ports.map(peerOf).sort().join(","),
    getLeader: (within = conf) =>
      waitFor("a leader named by tsraft get_leader", async () => {
        const run = await tsraft("get_leader", `--group=${GROUP}`, `--conf=${within}`);
        return run.code === 0 ? okLine(run) : undefined;
      }),
    peersOf: async (peer) => (await cluster.dump(portOf(peer), GROUP)).peers,
  };
  try {
    await cluster.startAll();
    await body(c);
  } finally {
    await cluster.stopAll();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
