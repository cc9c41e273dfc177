/**
 * What each tsraft command does once its flags are parsed: braft_cli's operations (cli.cpp),
 * get_leader, the learner extension and status, each run by the client library's CliClient.
 * Each returns the one line printed on success.
 */
import type { CliClient, GroupTarget, LearnersChange, PeersChange } from "../client/cli-client.js";
import { UsageError } from "./args.js";
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

/** Where a leader's operation goes: --leader when given, else the leader the peers of --conf name. */
function target(flags: Flags): GroupTarget {
  if (flags.leader !== undefined) return { leaderId: flags.leader };
  if (flags.conf === undefined) throw new UsageError("requires --conf (or --leader)");
  return flags.conf;
}

const list = (peers: readonly string[]): string => (peers.length === 0 ? "-" : peers.join(","));

const changeLine = (what: string, r: PeersChange): string =>
  `${what}: old=${list(r.oldPeers)} new=${list(r.newPeers)}`;

const learnersLine = (
  verb: string,
  learners: readonly string[],
  groupId: string,
  r: LearnersChange,
): string =>
  `${verb} learners ${list(learners)} of group ${groupId}: old=${list(r.oldLearners)} new=${list(r.newLearners)}`;

/** get_leader: the leader's id. */
export const getLeader: Operation = async (flags, client) =>
  (await client.getLeader(need(flags, "group"), target(flags))).toString();

/** add_peer (braft_cli), through the leader. */
export const addPeer: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  const r = await client.addPeer(groupId, target(flags), peerId);
  return changeLine(`Added peer ${peerId} to group ${groupId}`, r);
};

/** remove_peer (braft_cli), through the leader. */
export const removePeer: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  const r = await client.removePeer(groupId, target(flags), peerId);
  return changeLine(`Removed peer ${peerId} from group ${groupId}`, r);
};

/** change_peers (braft_cli), through the leader. */
export const changePeers: Operation = async (flags, client) => {
  const [groupId, newPeers] = [need(flags, "group"), need(flags, "new_peers")];
  const r = await client.changePeers(groupId, target(flags), newPeers);
  return changeLine(`Changed peers of group ${groupId}`, r);
};

/** reset_peer (braft_cli), on --peer itself. UNSAFE, see RaftNode.resetPeers. */
export const resetPeer: Operation = async (flags, client) => {
  const [groupId, peerId, newPeers] = [need(flags, "group"), need(flags, "peer"), need(flags, "new_peers")];
  await client.resetPeer(groupId, peerId, newPeers);
  return `Reset peers of ${peerId} in group ${groupId} to ${list(newPeers)}`;
};

/** snapshot (braft_cli), on --peer itself. */
export const snapshot: Operation = async (flags, client) => {
  const [groupId, peerId] = [need(flags, "group"), need(flags, "peer")];
  await client.snapshot(groupId, peerId);
  return `Snapshot taken on ${peerId} in group ${groupId}`;
};

/** transfer_leader (braft's cli.cpp): to --peer, or ANY_PEER without one. */
export const transferLeader: Operation = async (flags, client) => {
  const groupId = need(flags, "group");
  const peerId = flags.peer;
  const leaderId = (await client.transferLeader(groupId, target(flags), peerId)).toString();
  if (peerId === leaderId) return `Peer ${peerId} is already the leader of group ${groupId}`;
  return `Transferred leadership of group ${groupId} from ${leaderId} to ${peerId ?? "any peer"}`;
};

/** add_learners (tsraft.LearnerService), through the leader. */
export const addLearners: Operation = async (flags, client) => {
  const [groupId, learners] = [need(flags, "group"), need(flags, "learners")];
  return learnersLine("Added", learners, groupId, await client.addLearners(groupId, target(flags), learners));
};

/** remove_learners (tsraft.LearnerService), through the leader. */
export const removeLearners: Operation = async (flags, client) => {
  const [groupId, learners] = [need(flags, "group"), need(flags, "learners")];
  return learnersLine(
    "Removed",
    learners,
    groupId,
    await client.removeLearners(groupId, target(flags), learners),
  );
};

/** reset_learners (tsraft.LearnerService), through the leader. */
export const resetLearners: Operation = async (flags, client) => {
  const [groupId, learners] = [need(flags, "group"), need(flags, "learners")];
  return learnersLine(
    "Reset",
    learners,
    groupId,
    await client.resetLearners(groupId, target(flags), learners),
  );
};

/** status: the node's /raft_stat page over HTTP. */
export const status: Operation = (flags) => fetchStatus(need(flags, "peer"), flags.group, flags.timeout_ms);
