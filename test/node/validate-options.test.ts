/**
 * init() refuses every out-of-bounds option and flag with EINVAL naming the option, the value and
 * what is allowed (hashicorp/raft's ValidateConfig), and what braft's init refuses about the
 * node's identity: a peer id its server does not listen on, a server never started, 0.0.0.0.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { RaftError } from "../../src/core/errors.js";
import type { Logger } from "../../src/env/logger.js";
import { defaultFlags, flags } from "../../src/node/flags.js";
import type { NodeOptions } from "../../src/node/options.js";
import { RaftNode } from "../../src/node/raft-node.js";
import { RaftServer } from "../../src/server.js";
import { SimCluster } from "../../src/testing/sim-cluster.js";

const PEER = "10.0.0.1:8100:0";
const host = new SimCluster({ seed: 1301, nodes: 1 }).network.host(PEER);
let nameSeq = 0;

/** Options that init accepts; each call gets storage of its own. */
function goodOptions(extra: Record<string, unknown> = {}, logger?: Logger): NodeOptions {
  const name = `validate-${nameSeq++}`;
  return {
    fsm: { onApply: () => undefined },
    server: host,
    initialConf: PEER,
    logUri: `memory://${name}/log`,
    raftMetaUri: `memory://${name}/meta`,
    logger: logger ?? silent(),
    ...extra,
  } as NodeOptions;
}

function silent(warnings: string[] = []): Logger {
  const none = (): void => undefined;
  return { debug: none, info: none, warn: (message) => void warnings.push(message), error: none };
}

/** Inits a node with `options`; its error, or undefined after a clean start and shutdown. */
async function initError(options: NodeOptions, peer = PEER): Promise<RaftError | undefined> {
  const node = new RaftNode(`g${nameSeq++}`, peer);
  try {
    await node.init(options);
  } catch (error) {
    assert.ok(RaftError.is(error), String(error));
    return error;
  } finally {
    await node.shutdown();
  }
  return undefined;
}

async function assertRefused(options: NodeOptions, message: RegExp, peer = PEER): Promise<void> {
  const error = await initError(options, peer);
  assert.ok(error !== undefined, `init accepted what should match ${message}`);
  assert.equal(error.code, "EINVAL", error.message);
  assert.match(error.message, message);
}

async function assertAccepted(options: NodeOptions, peer = PEER): Promise<void> {
  const error = await initError(options, peer);
  assert.equal(error, undefined, error?.message);
}

/** [field, a value out of bounds, the message it gets] for every NodeOptions field with a bound. */
const badOptions: readonly [string, unknown, RegExp][] = [
  ["electionTimeoutMs", 0, /NodeOptions\.electionTimeoutMs is 0; allowed: an integer from 11 to 2147483647/],
  ["electionTimeoutMs", 10, /electionTimeoutMs is 10; allowed: an integer from 11/],
  ["electionTimeoutMs", 1.5, /electionTimeoutMs is 1\.5;/],
  ["electionTimeoutMs", "1000", /electionTimeoutMs is "1000";/],
  ["maxClockDriftMs", -1, /NodeOptions\.maxClockDriftMs is -1; allowed: an integer from 0/],
  [
    "snapshotIntervalS",
    1.5,
    /snapshotIntervalS is 1\.5; allowed: an integer from -2147483648 to 2147483 \(<= 0/,
  ],
  ["snapshotIntervalS", 2147484, /snapshotIntervalS is 2147484;/],
  ["catchupMargin", -1, /NodeOptions\.catchupMargin is -1; allowed: an integer from 0/],
  ["snapshotLogMarginEntries", -5, /snapshotLogMarginEntries is -5; allowed: an integer from 0/],
  ["logUri", "./data/log", /NodeOptions\.logUri is "\.\/data\/log"; allowed: a storage URI/],
  ["raftMetaUri", 42, /NodeOptions\.raftMetaUri is 42; allowed: a storage URI/],
  ["snapshotUri", "", /NodeOptions\.snapshotUri is ""; allowed: a storage URI/],
  ["initialConf", "not a peer", /NodeOptions\.initialConf is "not a peer"; allowed: a Configuration/],
  ["fsm", {}, /NodeOptions\.fsm is an object; allowed: a StateMachine \(with onApply\)/],
  ["server", {}, /NodeOptions\.server is an object; allowed: a RaftServer/],
  ["filterBeforeCopyRemote", "yes", /filterBeforeCopyRemote is "yes"; allowed: true or false/],
  ["disableCli", 1, /NodeOptions\.disableCli is 1; allowed: true or false/],
  ["snapshotThrottle", {}, /snapshotThrottle is an object; allowed: a SnapshotThrottle \(with acquire\)/],
  ["logStorage", {}, /logStorage is an object; allowed: a LogStorage/],
  ["raftMetaStorage", "x", /raftMetaStorage is "x"; allowed: a RaftMetaStorage/],
  ["snapshotStorage", {}, /snapshotStorage is an object; allowed: a SnapshotStorage/],
  ["flags", 3, /NodeOptions\.flags is 3; allowed: an object of braft flags/],
  ["env", {}, /NodeOptions\.env is an object; allowed: an Env/],
  ["logger", {}, /NodeOptions\.logger is an object; allowed: a Logger/],
];

/** [flag, a value out of bounds, the message it gets] for every flag. */
const badFlags: readonly [string, unknown, RegExp][] = [
  ["raft_sync", "false", /NodeOptions\.flags raft_sync is "false"; allowed: true or false/],
  ["raft_max_segment_size", 0, /raft_max_segment_size is 0; allowed: an integer from 1 to 2147483647/],
  ["raft_max_entries_size", 0, /raft_max_entries_size is 0; allowed: an integer from 1/],
  ["raft_max_body_size", -1, /raft_max_body_size is -1; allowed: an integer from 1/],
  ["raft_max_byte_count_per_rpc", 0, /raft_max_byte_count_per_rpc is 0;/],
  ["raft_apply_batch", 0, /raft_apply_batch is 0;/],
  ["raft_leader_batch", 0, /raft_leader_batch is 0;/],
  ["raft_election_heartbeat_factor", 1, /raft_election_heartbeat_factor is 1; allowed: an integer from 2/],
  ["raft_enable_leader_lease", 1, /raft_enable_leader_lease is 1; allowed: true or false/],
  ["raft_max_election_delay_ms", 0, /raft_max_election_delay_ms is 0; allowed: an integer from 1/],
  ["raft_step_down_when_vote_timedout", null, /raft_step_down_when_vote_timedout is null;/],
  [
    "raft_max_parallel_append_entries_rpc_num",
    0,
    /raft_max_parallel_append_entries_rpc_num is 0; allowed: an integer from 1 to 1024/,
  ],
  ["raft_max_parallel_append_entries_rpc_num", 1025, /raft_max_parallel_append_entries_rpc_num is 1025;/],
  ["raft_do_snapshot_min_index_gap", 0, /raft_do_snapshot_min_index_gap is 0;/],
  ["raft_max_install_snapshot_tasks_num", 0, /raft_max_install_snapshot_tasks_num is 0;/],
  ["raft_retry_replicate_interval_ms", 0, /raft_retry_replicate_interval_ms is 0;/],
  ["raft_enable_witness_to_leader", "yes", /raft_enable_witness_to_leader is "yes"; allowed: true or false/],
  ["tsraft_max_pending_applies", 0, /tsraft_max_pending_applies is 0;/],
  ["raft_sycn", false, /NodeOptions\.flags raft_sycn is not a flag; known: raft_sync,/],
];

describe("ValidateOptions: every NodeOptions bound", () => {
  for (const [field, value, message] of badOptions) {
    test(`${field} = ${JSON.stringify(value)} is refused`, async () => {
      await assertRefused(goodOptions({ [field]: value }), message);
    });
  }

  test("fsm and server are required; so is a log and a meta storage", async () => {
    await assertRefused(
      goodOptions({ fsm: undefined }),
      /NodeOptions\.fsm is undefined; allowed: a StateMachine/,
    );
    await assertRefused(goodOptions({ server: undefined }), /NodeOptions\.server is undefined;/);
    await assertRefused(goodOptions({ logUri: undefined }), /NodeOptions needs logUri \(or logStorage\)/);
    await assertRefused(goodOptions({ raftMetaUri: undefined }), /NodeOptions needs raftMetaUri/);
  });

  test("the bounds themselves are accepted", async () => {
    await assertAccepted(goodOptions({ electionTimeoutMs: 11, maxClockDriftMs: 0, catchupMargin: 0 }));
    await assertAccepted(goodOptions({ snapshotIntervalS: -1, snapshotLogMarginEntries: 0 }));
    await assertAccepted(
      goodOptions({
        flags: { raft_max_parallel_append_entries_rpc_num: 1024, raft_election_heartbeat_factor: 2 },
      }),
    );
  });

  test("the longest election deadline must fit a timer", async () => {
    await assertRefused(
      goodOptions({ electionTimeoutMs: 2 ** 31 - 100 }),
      /electionTimeoutMs 2147483548 plus its random delay or maxClockDriftMs is 2147484548 ms; allowed: at most 2147483647/,
    );
  });

  test("an unknown option is logged as a warning (probably a typo), and init goes on", async () => {
    const warnings: string[] = [];
    await assertAccepted(goodOptions({ electionTimeout: 5000 }, silent(warnings)));
    assert.ok(
      warnings.some((w) => /NodeOptions\.electionTimeout is not an option tsraft knows/.test(w)),
      warnings.join("\n"),
    );
  });
});

describe("ValidateFlags: every flag's bound, per node and process-wide", () => {
  for (const [flag, value, message] of badFlags) {
    test(`${flag} = ${JSON.stringify(value)} is refused`, async () => {
      await assertRefused(goodOptions({ flags: { [flag]: value } }), message);
    });
  }

  test("a bad process-wide value is refused at the next init, naming where it comes from", async () => {
    try {
      flags.raft_max_parallel_append_entries_rpc_num = 0;
      await assertRefused(
        goodOptions(),
        /process-wide flag raft_max_parallel_append_entries_rpc_num is 0; allowed: an integer from 1 to 1024/,
      );
      await assertAccepted(goodOptions({ flags: { raft_max_parallel_append_entries_rpc_num: 4 } }));
    } finally {
      Object.assign(flags, defaultFlags);
    }
  });
});

describe("ValidateIdentity: what braft's init refuses about the node's address", () => {
  const servers: RaftServer[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });
  const started = async (addr: string | number): Promise<{ server: RaftServer; port: number }> => {
    const server = new RaftServer();
    servers.push(server);
    await server.start(addr);
    return { server, port: Number(server.address.split(":").pop()) };
  };

  test("a server that was never started", async () => {
    const server = new RaftServer();
    await assertRefused(
      goodOptions({ server, initialConf: "127.0.0.1:8100:0" }),
      /the server of 127\.0\.0\.1:8100:0 was never started/,
      "127.0.0.1:8100:0",
    );
  });

  test("a peer id on an address or port its server does not listen on", async () => {
    const { server, port } = await started("127.0.0.1:0");
    const otherPort = `127.0.0.1:${port + 1}:0`;
    await assertRefused(
      goodOptions({ server, initialConf: otherPort }),
      new RegExp(
        `peer id ${otherPort} is not an address of its server, which listens on 127\\.0\\.0\\.1:${port}`,
      ),
      otherPort,
    );
    const otherIp = `10.1.2.3:${port}:0`;
    await assertRefused(
      goodOptions({ server, initialConf: otherIp }),
      /is not an address of its server/,
      otherIp,
    );
    const self = `127.0.0.1:${port}:0`;
    await assertAccepted(goodOptions({ server, initialConf: self }), self);
    await assertAccepted(goodOptions({ server, initialConf: `127.0.0.1:${port}:1` }), `127.0.0.1:${port}:1`);
  });

  test("a server on every interface serves any address with its port", async () => {
    const { server, port } = await started(0);
    const self = `127.0.0.1:${port}:0`;
    await assertAccepted(goodOptions({ server, initialConf: self }), self);
  });

  test("0.0.0.0 as the node's peer id or in the initial configuration", async () => {
    const { server, port } = await started(0);
    const any = `0.0.0.0:${port}:0`;
    await assertRefused(
      goodOptions({ server, initialConf: any }),
      /peer id 0\.0\.0\.0:\d+:0: 0\.0\.0\.0 is no address peers can dial/,
      any,
    );
    const self = `127.0.0.1:${port}:0`;
    await assertRefused(
      goodOptions({ server, initialConf: `${self},0.0.0.0:9:0` }),
      /a peer of NodeOptions\.initialConf is "0\.0\.0\.0:9:0"; allowed: peers on addresses others can dial/,
      self,
    );
  });

  test("a node outside its own initial configuration starts, with a warning", async () => {
    const warnings: string[] = [];
    await assertAccepted(goodOptions({ initialConf: "10.0.0.2:8100:0,10.0.0.3:8100:0" }, silent(warnings)));
    assert.ok(
      warnings.some((w) => /this node \(10\.0\.0\.1:8100:0\) is not in its initial configuration/.test(w)),
      warnings.join("\n"),
    );
    const quiet: string[] = [];
    await assertAccepted(goodOptions({}, silent(quiet)));
    await assertAccepted(goodOptions({ initialConf: "" }, silent(quiet)));
    assert.deepEqual(quiet, [], "no warning for a member, nor for an empty configuration");
  });

  test("a witness's PeerId carries braft's witness role (:1), and only a witness's does", async () => {
    const witness = "10.0.0.1:8100:0:1";
    await assertRefused(
      goodOptions({ witness: true }),
      /NodeOptions\.witness is true but peer id 10\.0\.0\.1:8100:0 has no witness role: use 10\.0\.0\.1:8100:0:1/,
    );
    await assertRefused(
      goodOptions({ initialConf: witness }),
      /peer id 10\.0\.0\.1:8100:0:1 has braft's witness role \(:1\) but NodeOptions\.witness is not set/,
      witness,
    );
    const warnings: string[] = [];
    await assertAccepted(goodOptions({ witness: true, initialConf: witness }, silent(warnings)), witness);
    assert.ok(
      warnings.some((w) => /a witness without snapshot storage never trims its log/.test(w)),
      warnings.join("\n"),
    );
  });
});
