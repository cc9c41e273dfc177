/**
 * braft's own atomic_server (its example/atomic, from ../shared/braft/bin) as a member of the
 * chaos cluster beside tsraft's atomic servers:
 *
 * - its command line is braft's example/atomic/run_server.sh's (fsync on, crash on fatal log,
 *   8 MiB segments), with the run's election timeout and snapshot interval;
 * - its peer traffic goes through the FaultProxy: braft has no flag to dial a peer elsewhere, so an
 *   LD_PRELOAD shim (connect-redirect.c, built once per run with the system's C compiler) rewrites
 *   its connect() calls, as `--proxy_map` does for tsraft's servers;
 * - its status comes from `/raft_stat`, its membership, transfer and snapshot calls go through
 *   braft's CliService, and its map is read from the snapshot it writes when asked (braft's example
 *   has no other way to show it).
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { canonicalPeerKey } from "../../src/util/peer-text.js";
import { RaftError } from "../../src/core/errors.js";
import type { Channel } from "../../src/rpc/channel.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { braftBinDir, REPO_ROOT } from "../interop/braft-bin.js";
import { httpGet, parseRaftStat } from "../interop/processes.js";
import type { AtomicStatus } from "./atomic-cluster.js";

/** The group braft's atomic example serves (its `-group` default), and tsraft's. */
export const ATOMIC_GROUP = "Atomic";

/** The reply of a membership or transfer call, as tsraft's admin service shapes it. */
export interface AdminReply {
  readonly ok: boolean;
  readonly code?: string;
}

/**
 * The path of braft's atomic_server, or an Error saying why it cannot run here (absent, or its
 * runtime libraries missing).
 */
export function braftAtomicServer(dir = braftBinDir()): string {
  const binary = join(dir, "atomic_server");
  if (!existsSync(binary)) {
    throw new Error(
      `--braft needs braft's atomic_server, not found in ${dir}: build braft's example/atomic there, ` +
        "or point --braft-bin (or TSRAFT_BRAFT_BIN) at the directory that holds it",
    );
  }
  const probe = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const loaderError = /error while loading shared libraries[^\n]*/.exec(probe.stderr ?? "");
  if (probe.error !== undefined)
    throw new Error(`braft's atomic_server does not start: ${probe.error.message}`);
  if (loaderError !== null) {
    throw new Error(
      `braft's atomic_server does not start (${loaderError[0]}); run ${join(dir, "..", "install-runtime.sh")}`,
    );
  }
  return binary;
}

/** Compiles the connect() shim into `outDir` and returns the library's path. */
export async function buildConnectShim(outDir: string): Promise<string> {
  const source = join(REPO_ROOT, "test", "chaos", "connect-redirect.c");
  const library = join(outDir, "connect-redirect.so");
  const compiler = process.env["CC"] ?? "cc";
  try {
    await promisify(execFile)(compiler, ["-shared", "-fPIC", "-O2", "-o", library, source, "-ldl"]);
  } catch (error) {
    throw new Error(
      `--braft needs a C compiler (${compiler}, or set CC) to build ${source}, which puts braft's ` +
        `peer traffic through the fault proxy: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return library;
}

/** braft's flags for one atomic_server, as example/atomic/run_server.sh gives them. */
export function braftAtomicArgs(options: {
  readonly port: number;
  readonly conf: string;
  readonly electionTimeoutMs: number;
  readonly snapshotIntervalS: number;
  readonly leaderLease: boolean;
}): string[] {
  return [
    // run_server.sh uses 18; braft's README advises 4 on a 2-core machine shared by several servers.
    "-bthread_concurrency=4",
    "-crash_on_fatal_log=true",
    "-raft_max_segment_size=8388608",
    "-raft_sync=true",
    `-port=${options.port}`,
    `-conf=${options.conf}`,
    "-data_path=./data",
    `-election_timeout_ms=${options.electionTimeoutMs}`,
    `-snapshot_interval=${options.snapshotIntervalS}`,
    // A tsraft leader's lease is safe only if every follower keeps braft's follower lease (no vote
    // while its leader is fresh), which braft keeps only with this flag on.
    `-raft_enable_leader_lease=${options.leaderLease}`,
  ];
}

/** TSRAFT_CONNECT_MAP for the shim: `port=proxyPort,...` from a FaultProxy address map. */
export function connectMapOf(addressMap: ReadonlyMap<string, string>): string {
  const portOf = (endpoint: string): string => endpoint.slice(endpoint.lastIndexOf(":") + 1);
  return [...addressMap].map(([from, to]) => `${portOf(from)}=${portOf(to)}`).join(",");
}

/** The PeerId a braft node gives itself on /raft_stat (canonical); rejects before it serves. */
export async function braftPeerId(port: number): Promise<string> {
  const stat = parseRaftStat(await httpGet(port, "/raft_stat", 1000), ATOMIC_GROUP);
  const peer = stat?.get("peer_id");
  if (peer === undefined) throw new Error(`no group ${ATOMIC_GROUP} on ${port} yet`);
  return canonicalPeerKey(peer);
}

/** A braft node's status from its /raft_stat; braft's example shows no map (`values` undefined). */
export async function braftStatus(port: number, timeoutMs = 1000): Promise<AtomicStatus> {
  const stat = parseRaftStat(await httpGet(port, "/raft_stat", timeoutMs), ATOMIC_GROUP);
  if (stat === undefined) throw new Error(`no group ${ATOMIC_GROUP} on ${port} yet`);
  const number = (key: string): number => Number(stat.get(key) ?? NaN);
  const peers = (stat.get("peers") ?? "").split(/\s+/).filter((peer) => peer !== "");
  return {
    state: stat.get("state") ?? "UNKNOWN",
    term: number("term"),
    leader: canonicalPeerKey(stat.get("leader") ?? "0.0.0.0:0:0"),
    peers: peers.map(canonicalPeerKey),
    committedIndex: number("last_committed_index"),
    appliedIndex: number("known_applied_index"),
    values: undefined,
    reads: { lease: 0, readIndex: 0, follower: 0 },
  };
}

/**
 * The chaos harness's admin calls (add_peer, remove_peer, transfer_leader, snapshot with the peer
 * as `arg`) on the braft node at `port`, through braft's CliService.
 */
export async function braftAdmin(
  channel: Channel,
  port: number,
  method: string,
  arg: string,
  timeoutMs: number,
): Promise<AdminReply> {
  const self = `127.0.0.1:${port}:0`;
  const groupId = ATOMIC_GROUP;
  const options = { timeoutMs };
  try {
    if (method === "add_peer" || method === "remove_peer") {
      await callMethod(channel, CliService, method, { groupId, leaderId: self, peerId: arg }, options);
    } else if (method === "transfer_leader") {
      await callMethod(channel, CliService, method, { groupId, leaderId: self, peerId: arg }, options);
    } else if (method === "snapshot") {
      await callMethod(channel, CliService, method, { groupId, peerId: self }, options);
    } else {
      return { ok: false, code: "ENOSYS" };
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, code: RaftError.is(error) ? error.code : String(error) };
  }
}

/**
 * The map of the newest snapshot in a braft node's working directory (`./data/snapshot/
 * snapshot_<index>/data`, braft's example format: `id value` lines) and its index.
 */
export function braftSnapshotValues(workDir: string): { index: number; values: [string, string][] } {
  const dir = join(workDir, "data", "snapshot");
  const indexes = readdirSync(dir)
    .map((name) => /^snapshot_(\d+)$/.exec(name)?.[1])
    .filter((index): index is string => index !== undefined)
    .map(Number)
    .sort((a, b) => b - a);
  const index = indexes[0];
  if (index === undefined) throw new Error(`no snapshot in ${dir}`);
  const text = readFileSync(join(dir, `snapshot_${String(index).padStart(20, "0")}`, "data"), "utf8");
  const values = text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => line.trim().split(/\s+/) as [string, string])
    .sort(([a], [b]) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
  return { index, values };
}
