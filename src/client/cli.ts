/**
 * braft's `braft::cli` free functions (cli.h): each opens channels, runs one operation and closes
 * them. A program that runs many keeps one {@link CliClient} instead.
 */
import type { PeerId } from "../node/peer-id.js";
import {
  CliClient,
  type CliCallOptions,
  type CliClientOptions,
  type GroupTarget,
  type LearnersChange,
  type PeersChange,
} from "./cli-client.js";

/** braft's CliOptions (`timeoutMs`, `maxRetry`), channel options and an AbortSignal. */
export type CliOptions = CliClientOptions & CliCallOptions;

type Peers = Parameters<CliClient["changePeers"]>[2];

async function once<T>(options: CliOptions, run: (client: CliClient) => Promise<T>): Promise<T> {
  const client = new CliClient(options);
  try {
    return await run(client);
  } finally {
    client.close();
  }
}

/** The leader of `groupId` as the peers of `conf` name it. */
export function getLeader(groupId: string, conf: GroupTarget, options: CliOptions = {}): Promise<PeerId> {
  return once(options, (c) => c.getLeader(groupId, conf, options));
}

/** Adds `peer` to the group, through its leader. */
export function addPeer(
  groupId: string,
  conf: GroupTarget,
  peer: PeerId | string,
  options: CliOptions = {},
): Promise<PeersChange> {
  return once(options, (c) => c.addPeer(groupId, conf, peer, options));
}

/** Removes `peer` from the group, through its leader. */
export function removePeer(
  groupId: string,
  conf: GroupTarget,
  peer: PeerId | string,
  options: CliOptions = {},
): Promise<PeersChange> {
  return once(options, (c) => c.removePeer(groupId, conf, peer, options));
}

/** Changes the group's peers to `newPeers`, through its leader. */
export function changePeers(
  groupId: string,
  conf: GroupTarget,
  newPeers: Peers,
  options: CliOptions = {},
): Promise<PeersChange> {
  return once(options, (c) => c.changePeers(groupId, conf, newPeers, options));
}

/** UNSAFE: forces `peer`'s configuration to `newPeers` (a group that lost its majority). */
export function resetPeer(
  groupId: string,
  peer: PeerId | string,
  newPeers: Peers,
  options: CliOptions = {},
): Promise<void> {
  return once(options, (c) => c.resetPeer(groupId, peer, newPeers, options));
}

/** Makes `peer` take a snapshot now. */
export function snapshot(groupId: string, peer: PeerId | string, options: CliOptions = {}): Promise<void> {
  return once(options, (c) => c.snapshot(groupId, peer, options));
}

/** Hands leadership to `peer` (any follower when absent); resolves with the old leader. */
export function transferLeader(
  groupId: string,
  conf: GroupTarget,
  peer?: PeerId | string,
  options: CliOptions = {},
): Promise<PeerId> {
  return once(options, (c) => c.transferLeader(groupId, conf, peer, options));
}

/** Adds learners (tsraft's LearnerService), through the leader. */
export function addLearners(
  groupId: string,
  conf: GroupTarget,
  learners: readonly (PeerId | string)[],
  options: CliOptions = {},
): Promise<LearnersChange> {
  return once(options, (c) => c.addLearners(groupId, conf, learners, options));
}

/** Removes learners (tsraft's LearnerService), through the leader. */
export function removeLearners(
  groupId: string,
  conf: GroupTarget,
  learners: readonly (PeerId | string)[],
  options: CliOptions = {},
): Promise<LearnersChange> {
  return once(options, (c) => c.removeLearners(groupId, conf, learners, options));
}

/** Makes `learners` the group's only learners, through the leader. */
export function resetLearners(
  groupId: string,
  conf: GroupTarget,
  learners: readonly (PeerId | string)[],
  options: CliOptions = {},
): Promise<LearnersChange> {
  return once(options, (c) => c.resetLearners(groupId, conf, learners, options));
}
