/**
 * braft's atomic example server, wire-compatible: `example.AtomicService` (get, exchange,
 * compare_exchange on int64 ids) on the same port as the raft services, braft's flags and
 * defaults, braft's redirect (success=false, no old_value, `redirect` = the leader when known).
 *
 *   node dist/examples/atomic/server.js --port 8100 --conf 127.0.0.1:8100:0,127.0.0.1:8101:0,... \
 *     --data_path ./data/8100
 *
 * Unlike braft's example, `get` does not go through the log: it is a linearizable read through
 * `node.readIndex()` (one heartbeat round confirms leadership). Read modes, all linearizable:
 * `--raft_enable_leader_lease` (braft's flag) turns the leader lease on; with it, `--lease_reads`
 * answers gets on the leader from its map while `node.isLeaderLeaseValid()` (braft's lease read,
 * no round trip), falling back to ReadIndex outside the lease. `--follower_reads` lets followers
 * and learners answer gets too: they ask the leader for a read index, then wait until their own
 * map has applied it.
 *
 * Test-only flags: `--proxy_map ip:port=host:port,...` dials a peer at another address (a
 * fault-injecting proxy); `--admin` serves `tsraft.test.AtomicAdmin` (status and membership calls
 * in JSON) for the chaos harness; `--unsafe_local_reads` answers gets from the local map on any node
 * without ReadIndex (followers and deposed leaders serve stale reads), to check that the chaos
 * run catches it.
 */
import { parseArgs } from "node:util";
import { RaftError, RaftNode, RaftServer, type ApplyClosure, type Status } from "../../src/index.js";
import { AtomicService } from "../../src/rpc/gen/example/atomic_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AtomicResponseSchema } from "../../src/rpc/gen/example/atomic_pb.js";
import {
  AtomicStateMachine,
  OpType,
  encodeEntry,
  type AtomicRequest,
  type AtomicResult,
} from "./atomic-state-machine.js";

type ResponseInit = MessageInitShape<typeof AtomicResponseSchema>;

const { values: flags } = parseArgs({
  options: {
    port: { type: "string", default: "8100" },
    ip: { type: "string", default: "127.0.0.1" },
    conf: { type: "string", default: "" },
    data_path: { type: "string", default: "./data" },
    group: { type: "string", default: "Atomic" },
    election_timeout_ms: { type: "string", default: "5000" },
    snapshot_interval: { type: "string", default: "30" },
    check_term: { type: "string", default: "true" },
    disable_cli: { type: "boolean", default: false },
    proxy_map: { type: "string", default: "" },
    admin: { type: "boolean", default: false },
    unsafe_local_reads: { type: "boolean", default: false },
    raft_enable_leader_lease: { type: "boolean", default: false },
    lease_reads: { type: "boolean", default: false },
    follower_reads: { type: "boolean", default: false },
  },
});

/**
 * How long a lease read waits for the leader's map to apply what was committed when the lease
 * was checked: an election timeout's worth, after which the get fails (no effect) instead of
 * holding a call on a node that stopped applying.
 */
const LEASE_READ_APPLY_WAIT_MS = 1000;

function parseProxyMap(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of text.split(",").filter((p) => p !== "")) {
    const [from, to] = pair.split("=");
    if (from === undefined || to === undefined) throw new Error(`bad --proxy_map entry ${pair}`);
    map.set(from, to);
  }
  return map;
}

class AtomicServer {
  readonly fsm = new AtomicStateMachine();
  readonly node: RaftNode;
  /** Gets answered, by how; the chaos run reports them to show each read path was exercised. */
  readonly reads = { lease: 0, readIndex: 0, follower: 0 };

  constructor(readonly self: string) {
    this.node = new RaftNode(flags.group, self);
  }

  redirect(refused: boolean): ResponseInit {
    const leader = this.node.leaderId()?.toString();
    return { success: false, ...(leader === undefined ? {} : { redirect: leader }), refused };
  }

  /** braft's Atomic::apply: leaders only, with expected_term against ABA across terms. */
  apply(op: AtomicRequest): Promise<ResponseInit> {
    const term = this.fsm.leaderTerm;
    if (term < 0) return Promise.resolve(this.redirect(true));
    return new Promise((resolve) => {
      let result: AtomicResult | undefined;
      const done: ApplyClosure = {
        setResult: (value: unknown) => {
          result = value as AtomicResult;
        },
        run: (status: Status) => {
          if (status.ok() && result !== undefined) resolve(result);
          // The node says whether the entry never reached the log (refused) or may still commit.
          else resolve(this.redirect(status.outcome === "refused"));
        },
      };
      this.node.applyTask({
        data: encodeEntry(op),
        ...(flags.check_term === "false" ? {} : { expectedTerm: term }),
        done,
      });
    });
  }

  /**
   * A linearizable read: from the leader's map inside its lease (--lease_reads), else after
   * ReadIndex on the leader, or on a follower (--follower_reads) after the leader confirmed an
   * index this follower has applied.
   */
  async get(id: bigint): Promise<ResponseInit> {
    if (flags.unsafe_local_reads) return this.value(id);
    const leading = this.fsm.leaderTerm >= 0;
    if (!leading && !flags.follower_reads) return this.redirect(true);
    if (leading && flags.lease_reads && (await this.leaseRead())) {
      this.reads.lease++;
      return this.value(id);
    }
    try {
      await this.node.readIndex();
    } catch {
      return this.redirect(true); // a get that failed had no effect either way
    }
    if (leading) this.reads.readIndex++;
    else this.reads.follower++;
    return this.value(id);
  }

  /**
   * braft's lease read: while the lease is valid no other leader can have committed anything, so
   * once the map holds everything this leader had committed at the check, it is current. False
   * outside the lease (the caller falls back to ReadIndex) or when applying did not catch up.
   */
  private async leaseRead(): Promise<boolean> {
    if (!this.node.isLeaderLeaseValid()) return false;
    const committed = this.node.getStatus().committedIndex;
    return this.fsm.waitApplied(committed, LEASE_READ_APPLY_WAIT_MS);
  }

  private value(id: bigint): ResponseInit {
    const value = this.fsm.get(id);
    return { success: true, id, oldValue: value, newValue: value };
  }
}

async function main(): Promise<void> {
  const port = Number(flags.port);
  const self = `${flags.ip}:${port}:0`;
  const proxies = parseProxyMap(flags.proxy_map);
  const server = new RaftServer({ resolveAddress: (endpoint) => proxies.get(endpoint) ?? endpoint });
  const atomic = new AtomicServer(self);
  server.addService(AtomicService, {
    get: (request) => atomic.get(request.id),
    exchange: (request) => atomic.apply({ type: OpType.EXCHANGE, request }),
    compare_exchange: (request) => atomic.apply({ type: OpType.CAS, request }),
  });
  if (flags.admin) addAdmin(server, atomic);
  await server.start(`${flags.ip}:${port}`);
  const prefix = `local://${flags.data_path}`;
  await atomic.node.init({
    fsm: atomic.fsm,
    server,
    initialConf: flags.conf,
    electionTimeoutMs: Number(flags.election_timeout_ms),
    snapshotIntervalS: Number(flags.snapshot_interval),
    logUri: `${prefix}/log`,
    raftMetaUri: `${prefix}/raft_meta`,
    snapshotUri: `${prefix}/snapshot`,
    disableCli: flags.disable_cli,
    flags: { raft_enable_leader_lease: flags.raft_enable_leader_lease },
  });
  if (flags.lease_reads && !flags.raft_enable_leader_lease) {
    console.error("--lease_reads needs --raft_enable_leader_lease: gets use ReadIndex only");
  }
  process.once("SIGTERM", () => {
    void atomic.node
      .shutdown()
      .then(() => server.stop())
      .then(() => process.exit(0));
  });
  console.log(`READY ${port} Atomic service is running on ${server.address}`);
}

/** Test-only: what the chaos harness needs to see and change, as JSON over raw methods. */
function addAdmin(server: RaftServer, atomic: AtomicServer): void {
  const encoder = new TextEncoder();
  const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
  const fail = (error: unknown): Uint8Array =>
    json({ ok: false, code: RaftError.is(error) ? error.code : "EIO", message: String(error) });
  const service = "tsraft.test.AtomicAdmin";
  server.addMethod(service, "status", () => {
    const status = atomic.node.getStatus();
    return json({
      state: status.state,
      term: status.term,
      leader: status.leaderId,
      peers: status.peers,
      committedIndex: status.committedIndex,
      appliedIndex: status.appliedIndex,
      values: atomic.fsm.dump(),
      reads: atomic.reads,
    });
  });
  const run = (what: (arg: string) => Promise<void>) => async (body: Uint8Array) => {
    try {
      await what(new TextDecoder().decode(body));
      return json({ ok: true });
    } catch (error) {
      return fail(error);
    }
  };
  server.addMethod(
    service,
    "add_peer",
    run((peer) => atomic.node.addPeer(peer)),
  );
  server.addMethod(
    service,
    "remove_peer",
    run((peer) => atomic.node.removePeer(peer)),
  );
  server.addMethod(
    service,
    "transfer_leader",
    run((peer) => atomic.node.transferLeadershipTo(peer)),
  );
  server.addMethod(
    service,
    "snapshot",
    run(() => atomic.node.snapshot()),
  );
  // braft's triggered vote; the body is the election timeout in ms.
  server.addMethod(
    service,
    "vote",
    run((ms) => Promise.resolve(atomic.node.vote(Number(ms)))),
  );
}

await main();
