/**
 * The CliService steps of capture-frames.ts: braft_cli's every command against the tsraft node
 * (braft's requests), and every CliService method asked of braft's nodes, answered and refused
 * (braft's responses). Each call records what it expects braft to answer, so the fixtures test
 * checks decoded fields against the scenario, not against tsraft's own reading of the bytes.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { Channel } from "../../src/rpc/channel.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { callMethod } from "../../src/rpc/typed-call.js";
import { RaftError } from "../../src/index.js";

/** A peer that never runs: transfer_leader to it is refused. */
export const ABSENT_PEER = "127.0.0.1:1:0";

/** What a CliService answer from braft must say, by correlation id of its request. */
export interface CliExpectation {
  readonly method: string;
  /** braft's error name when the call is refused, else absent. */
  readonly error?: string;
  /** Fields of the decoded response (peer lists compare as sets of canonical ids). */
  readonly fields?: Readonly<Record<string, string | readonly string[]>>;
}

/** braft_cli, bound to the group and the capture's working directory. */
export type BraftCli = (args: string[]) => Promise<void>;

/** `conf` without `peer`. */
const without = (conf: string, peer: string): string =>
  conf
    .split(",")
    .filter((p) => p !== peer)
    .join(",");

/**
 * braft_cli's commands sent to the tsraft node while it leads: remove_peer and add_peer of
 * `member` (a braft node, which catches up again), change_peers without it and back, snapshot;
 * reset_peer comes last, from {@link resetTsraftPeers}.
 */
export async function braftCliAgainstTsraft(
  cli: BraftCli,
  conf: string,
  tsraftPeer: string,
  member: string,
): Promise<void> {
  await cli(["remove_peer", `--peer=${member}`, `--conf=${conf}`]);
  await cli(["add_peer", `--peer=${member}`, `--conf=${conf}`]);
  await cli(["change_peers", `--new_peers=${without(conf, member)}`, `--conf=${conf}`]);
  await cli(["change_peers", `--new_peers=${conf}`, `--conf=${conf}`]);
  await cli(["snapshot", `--peer=${tsraftPeer}`]);
}

/** braft_cli reset_peer on the tsraft node (a follower by then) to the configuration it has. */
export async function resetTsraftPeers(cli: BraftCli, conf: string, tsraftPeer: string): Promise<void> {
  await cli(["reset_peer", `--peer=${tsraftPeer}`, `--new_peers=${conf}`]);
}

interface BraftNodeAddress {
  /** braft's own PeerId, `127.0.0.1:<port>:0`. */
  readonly peer: string;
  /** The recording proxy in front of it. */
  readonly proxyPort: number;
}

/**
 * The key of an expectation: the method and the bytes of the request that asked it (every
 * request of {@link cliAnswersFromBraft} differs from the others).
 */
export function expectationKey(method: string, requestBytes: Uint8Array): string {
  return `${method}:${Buffer.from(requestBytes).toString("hex")}`;
}

type CliMethod =
  "get_leader" | "add_peer" | "remove_peer" | "change_peers" | "reset_peer" | "snapshot" | "transfer_leader";

/**
 * Every CliService method asked of braft's nodes through their recording proxies: answered
 * (get_leader, snapshot, remove_peer and add_peer of `member`, change_peers without it and back,
 * transfer_leader, reset_peer) and
 * refused (get_leader of an unknown group, add_peer on a follower, transfer_leader to a
 * non-member, reset_peer to nobody). `leader` leads the group when this starts; `follower` is
 * the other braft node, and leads after transfer_leader (`waitForLeader`). Resolves with the expectations by {@link expectationKey}.
 */
export async function cliAnswersFromBraft(
  group: string,
  conf: string,
  leader: BraftNodeAddress,
  follower: BraftNodeAddress,
  member: string,
  waitForLeader: (peer: string) => Promise<void>,
): Promise<Map<string, CliExpectation>> {
  const expectations = new Map<string, CliExpectation>();
  const channels = new Map<number, Channel>();
  const peers = conf.split(",");
  const withoutMember = peers.filter((p) => p !== member);
  const call = async (
    node: BraftNodeAddress,
    method: CliMethod,
    fields: Record<string, unknown>,
    expect: Omit<CliExpectation, "method">,
  ): Promise<void> => {
    let channel = channels.get(node.proxyPort);
    if (channel === undefined) {
      channel = new Channel(`127.0.0.1:${node.proxyPort}`);
      channels.set(node.proxyPort, channel);
    }
    const input = CliService.method[method].input;
    const request = create(input, { groupId: group, ...fields } as never);
    expectations.set(expectationKey(method, toBinary(input, request)), { method, ...expect });
    try {
      await callMethod(channel, CliService, method, request as never, { timeoutMs: 10_000 });
      if (expect.error !== undefined) throw new Error(`${method} was expected to fail with ${expect.error}`);
    } catch (error) {
      if (!RaftError.is(error) || error.code !== expect.error) throw error;
    }
  };
  const change = (oldPeers: string[], newPeers: string[]) => ({ fields: { oldPeers, newPeers } });
  try {
    await call(leader, "get_leader", { peerId: leader.peer }, { fields: { leaderId: leader.peer } });
    await call(follower, "get_leader", {}, { fields: { leaderId: leader.peer } });
    await call(leader, "get_leader", { groupId: "NoSuchGroup" }, { error: "ENOENT" });
    await call(follower, "snapshot", { peerId: follower.peer }, {});
    const [self, absent] = [leader.peer, ABSENT_PEER];
    await call(leader, "remove_peer", { leaderId: self, peerId: member }, change(peers, withoutMember));
    await call(leader, "add_peer", { leaderId: self, peerId: member }, change(withoutMember, peers));
    const newPeers = withoutMember;
    await call(leader, "change_peers", { leaderId: self, newPeers }, change(peers, withoutMember));
    await call(leader, "change_peers", { leaderId: self, newPeers: peers }, change(withoutMember, peers));
    await call(follower, "add_peer", { leaderId: follower.peer, peerId: absent }, { error: "EPERM" });
    await call(leader, "transfer_leader", { leaderId: self, peerId: absent }, { error: "EINVAL" });
    await call(follower, "reset_peer", { peerId: follower.peer, newPeers: [] }, { error: "EINVAL" });
    await call(leader, "transfer_leader", { leaderId: self, peerId: follower.peer }, {});
    await waitForLeader(follower.peer);
    // Last: a follower reset to the peers it has steps down into a new term, disturbing the group.
    await call(leader, "reset_peer", { peerId: self, newPeers: peers }, {});
  } finally {
    for (const channel of channels.values()) channel.close();
  }
  return expectations;
}
