/**
 * How braft's CliService (and tsraft's LearnerService) pick the node a request is for
 * (cli_service.cpp's get_node), and parse peer ids with braft's error texts.
 */
import { RaftError } from "../core/errors.js";
import { formatPeerId, parsePeerId, routingKey } from "../util/peer-text.js";
import type { PeerKey } from "../core/types.js";
import type { NodeAdmin } from "../node/ports.js";

/** Where CliService finds nodes: the RaftServer's hosted nodes, by group. */
export interface NodeLookup {
  nodes(groupId?: string): NodeAdmin[];
}

/** The canonical `ip:port:idx` of a peer id from a request, or braft's EINVAL. */
export function peerOf(text: string, what = "Fail to parse"): PeerKey {
  const peer = parsePeerId(text);
  if (peer === undefined) throw new RaftError("EINVAL", `${what} ${text}`);
  return formatPeerId(peer);
}

/** Whether two peer ids name the same node (`ip:port` = `ip:port:0`, role ignored). */
export function samePeer(a: string, b: string): boolean {
  const x = parsePeerId(a);
  const y = parsePeerId(b);
  return x !== undefined && y !== undefined && routingKey(x) === routingKey(y);
}

/**
 * braft's CliServiceImpl::get_node: the node `peerId` of `groupId` (or, with no peer id, the
 * group's only node here), refused when its CLI is disabled.
 */
export function getNode(lookup: NodeLookup, groupId: string, peerId: string): NodeAdmin {
  const nodes = lookup.nodes(groupId);
  let node: NodeAdmin | undefined;
  if (peerId !== "") {
    peerOf(peerId);
    node = nodes.find((n) => samePeer(n.peerId, peerId));
    if (node === undefined) throw new RaftError("ENOENT", `Fail to find node ${peerId} in group ${groupId}`);
  } else {
    if (nodes.length === 0) throw new RaftError("ENOENT", `Fail to find node in group ${groupId}`);
    if (nodes.length > 1) {
      const message = `peer must be specified since there're ${nodes.length} nodes in group ${groupId}`;
      throw new RaftError("EINVAL", message);
    }
    node = nodes[0] as NodeAdmin;
  }
  if (node.cliDisabled) {
    throw new RaftError("EACCES", `CliService is not allowed to access node ${groupId}:${node.peerId}`);
  }
  return node;
}
