/**
 * What each tsraft command does once its flags are parsed: braft_cli's operations (cli.cpp),
 * get_leader, the learner extension and status. Each returns the one line printed on success.
 */
import { CliService } from "../rpc/gen/braft/cli_pb.js";
import { LearnerService } from "../rpc/gen/tsraft/cli_pb.js";
import { UsageError } from "./args.js";
import type { CliClient } from "./cli-client.js";
import { fetchStatus } from "./status.js";

/** Parsed flags (commander's option values, braft_cli's names). */
export interface Flags {
  readonly group?: string;
  readonly conf?: readonly string[];
  readonly peer?: string;
  readonly leader?: string;
  readonly new_peers?: readonly string[];
  readonly learners?: readonly string[];
  readonly timeout_ms: number;
  readonly max_retry: number;
}

/** One command's work: resolves with the line to print, rejects with a RaftError or UsageError. */
export type Operation = (flags: Flags, client: CliClient) => Promise<string>;

function need<K extends keyof Flags>(flags: Flags, name: K): NonNullable<Flags[K]> {
  const value = flags[name];
  if (value === undefined) throw new UsageError(`requires --${name}`);
  return value as NonNullable<Flags[K]>;
}

/** The leader to send to: --leader when given, else the one the peers of --conf name. */
function leaderFor(flags: Flags, client: CliClient): Promise<string> {
  if (flags.leader !== undefined) return Promise.resolve(flags.leader);
  if (flags.conf === undefined) throw new UsageError("requires --conf (or --leader)");
  return client.leaderOf(need(flags, "group"), flags.conf);
}

const list = (peers: readonly string[]): string => (peers.length === 0 ? "-" : peers.join(","));

const changeLine = (what: string, r: { oldPeers: string[]; newPeers: string[] }): string =>
  `${what}: old=${list(r.oldPeers)} new=${list(r.newPeers)}`;

/** get_leader: the leader's id. */
export const getLeader: Operation = (flags, client) => leaderFor(flags, client);

/** add_peer (braft_cli), through the leader. */
export const addPeer: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  const leaderId = await leaderFor(flags, client);
  const r = await client.call(leaderId, CliService, "add_peer", { groupId, leaderId, peerId });
  return changeLine(`Added peer ${peerId} to group ${groupId}`, r);
};

/** remove_peer (braft_cli), through the leader. */
export const removePeer: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  const leaderId = await leaderFor(flags, client);
  const r = await client.call(leaderId, CliService, "remove_peer", { groupId, leaderId, peerId });
  return changeLine(`Removed peer ${peerId} from group ${groupId}`, r);
};

/** change_peers (braft_cli), through the leader. */
export const changePeers: Operation = async (flags, client) => {
  const [groupId, newPeers] = [need(flags, "group"), need(flags, "new_peers")];
  const leaderId = await leaderFor(flags, client);
  const r = await client.call(leaderId, CliService, "change_peers", {
    groupId,
    leaderId,
    newPeers: [...newPeers],
  });
  return changeLine(`Changed peers of group ${groupId}`, r);
};

/** reset_peer (braft_cli), on --peer itself. UNSAFE, see RaftNode.resetPeers. */
export const resetPeer: Operation = async (flags, client) => {
  const [groupId, peerId, newPeers] = [need(flags, "group"), need(flags, "peer"), need(flags, "new_peers")];
  await client.call(peerId, CliService, "reset_peer", { groupId, peerId, newPeers: [...newPeers] });
  return `Reset peers of ${peerId} in group ${groupId} to ${list(newPeers)}`;
};

/** snapshot (braft_cli), on --peer itself. */
export const snapshot: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  await client.call(peerId, CliService, "snapshot", { groupId, peerId });
  return `Snapshot taken on ${peerId} in group ${groupId}`;
};

/** transfer_leader (braft's cli.cpp): to --peer, or ANY_PEER without one. */
export const transferLeader: Operation = async (flags, client) => {
  const groupId = need(flags, "group");
  const leaderId = await leaderFor(flags, client);
  const peerId = flags.peer;
  if (peerId === leaderId) return `Peer ${peerId} is already the leader of group ${groupId}`;
  const request = peerId === undefined ? { groupId, leaderId } : { groupId, leaderId, peerId };
  await client.call(leaderId, CliService, "transfer_leader", request);
  return `Transferred leadership of group ${groupId} from ${leaderId} to ${peerId ?? "any peer"}`;
};

type LearnerMethod = "add_learners" | "remove_learners" | "reset_learners";

const learnerOperation =
  (method: LearnerMethod, verb: string): Operation =>
  async (flags, client) => {
    const [groupId, learners] = [need(flags, "group"), need(flags, "learners")];
    const leaderId = await leaderFor(flags, client);
    const r = await client.call(leaderId, LearnerService, method, {
      groupId,
      leaderId,
      learners: [...learners],
    });
    return `${verb} learners ${list(learners)} of group ${groupId}: old=${list(r.oldLearners)} new=${list(r.newLearners)}`;
  };

/** add_learners (tsraft.LearnerService), through the leader. */
export const addLearners = learnerOperation("add_learners", "Added");
/** remove_learners (tsraft.LearnerService), through the leader. */
export const removeLearners = learnerOperation("remove_learners", "Removed");
/** reset_learners (tsraft.LearnerService), through the leader. */
export const resetLearners = learnerOperation("reset_learners", "Reset");

/** status: the node's /raft_stat page over HTTP. */
export const status: Operation = (flags) => fetchStatus(need(flags, "peer"), flags.group, flags.timeout_ms);
