/**
 * braft's CliService (cli_service.cpp) on a RaftServer: the operator's membership, snapshot and
 * leadership calls, reaching the nodes the server hosts through their NodeAdmin handles.
 *
 * As in braft: add_peer, remove_peer, change_peers and transfer_leader go to the node named by
 * `leader_id`; reset_peer and snapshot to `peer_id` (snapshot without one: the group's only node
 * here); get_leader to `peer_id` or to any node of the group. Failures are thrown as RaftErrors,
 * which the registry sends as the response meta's error code and text, with braft's codes and
 * texts: ENOENT for an unknown group or peer, EINVAL for an unparsable peer id, EACCES for a node
 * started with `disableCli` (get_leader is not refused, as in braft), EAGAIN "Unknown leader".
 */
import { isFieldSet } from "@bufbuild/protobuf";
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import { getNode, peerOf, samePeer, type NodeLookup } from "./cli-nodes.js";
import { CliService, GetLeaderRequestSchema, TransferLeaderRequestSchema } from "./gen/braft/cli_pb.js";
import { addLearnerService } from "./learner-service.js";
import type { ServiceRegistry } from "./service-registry.js";
import type { NodeAdmin } from "../node/ports.js";

export type { NodeLookup } from "./cli-nodes.js";

/** braft's ANY_PEER, what transfer_leader without a peer_id means. */
const ANY_PEER = "0.0.0.0:0:0";

/** braft's get_leader: the leader known to `peerId`, or to any node of the group hosted here. */
function leaderOf(lookup: NodeLookup, groupId: string, peerId: string | undefined): string {
  let nodes = lookup.nodes(groupId);
  if (peerId !== undefined) {
    peerOf(peerId);
    nodes = nodes.filter((n) => samePeer(n.peerId, peerId));
  }
  if (nodes.length === 0) throw new RaftError("ENOENT", `No nodes in group ${groupId}`);
  for (const node of nodes) {
    const leader = node.leaderId();
    if (leader !== undefined && leader !== "") return leader;
  }
  throw new RaftError("EAGAIN", "Unknown leader");
}

/**
 * The node's configuration as NodeAdmin.changePeers takes it: `peers` as voters, and the learners
 * it has now (minus any promoted to voter) kept, since braft's peer calls know nothing of them.
 */
function withLearners(node: NodeAdmin, peers: readonly PeerKey[]): string[] {
  const learners = node.getStatus().learners.filter((l) => !peers.some((p) => samePeer(p, l)));
  return [...peers, ...learners.map((l) => `${l}/learner`)];
}

function parsePeers(peers: readonly string[]): PeerKey[] {
  return [...new Set(peers.map((p) => peerOf(p)))];
}

/** Serves braft.CliService and tsraft.LearnerService for the nodes `lookup` finds. */
export function addCliService(registry: ServiceRegistry, lookup: NodeLookup): void {
  addLearnerService(registry, lookup);
  registry.addService(CliService, {
    add_peer: async (request) => {
      const node = getNode(lookup, request.groupId, request.leaderId);
      const peer = peerOf(request.peerId, "Fail to parse peer_id");
      const oldPeers = [...node.getStatus().peers];
      // A change of the whole configuration, so that adding a learner promotes it.
      await node.changePeers(withLearners(node, [...oldPeers, peer]));
      const present = oldPeers.some((p) => samePeer(p, peer));
      return { oldPeers, newPeers: present ? oldPeers : [...oldPeers, peer] };
    },
    remove_peer: async (request) => {
      const node = getNode(lookup, request.groupId, request.leaderId);
      const peer = peerOf(request.peerId, "Fail to parse peer_id");
      const oldPeers = [...node.getStatus().peers];
      await node.removePeer(peer);
      return { oldPeers, newPeers: oldPeers.filter((p) => !samePeer(p, peer)) };
    },
    change_peers: async (request) => {
      const node = getNode(lookup, request.groupId, request.leaderId);
      const newPeers = parsePeers(request.newPeers);
      const oldPeers = [...node.getStatus().peers];
      await node.changePeers(withLearners(node, newPeers));
      return { oldPeers, newPeers };
    },
    reset_peer: async (request) => {
      const node = getNode(lookup, request.groupId, request.peerId);
      await node.resetPeers(withLearners(node, parsePeers(request.newPeers)));
      return {};
    },
    snapshot: async (request) => {
      await getNode(lookup, request.groupId, request.peerId).snapshot();
      return {};
    },
    get_leader: (request) => {
      const peerId = isFieldSet(request, GetLeaderRequestSchema.field.peerId) ? request.peerId : undefined;
      return { leaderId: leaderOf(lookup, request.groupId, peerId) };
    },
    transfer_leader: async (request) => {
      const node = getNode(lookup, request.groupId, request.leaderId);
      const hasPeer = isFieldSet(request, TransferLeaderRequestSchema.field.peerId);
      const peer = hasPeer ? peerOf(request.peerId) : ANY_PEER;
      await node.transferLeadershipTo(peer).catch((error: unknown) => {
        if (!RaftError.is(error)) throw error;
        throw new RaftError(error.code, `Fail to invoke transfer_leadership_to : ${error.message}`);
      });
      return {};
    },
  });
}
