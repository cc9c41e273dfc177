/**
 * braft's RaftService on a RaftServer: decodes each request, finds the node registered under
 * (group_id, peer_id) and encodes its answer. As in braft's raft_service.cpp, an unknown node
 * answers ENOENT "peer_id not exist" and nothing else happens.
 */
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import {
  decodeAppendEntriesRequest,
  decodeInstallSnapshotRequest,
  decodeTimeoutNowRequest,
  decodeVoteRequest,
  encodeAppendEntriesResponse,
  encodeInstallSnapshotResponse,
  encodeTimeoutNowResponse,
  encodeVoteResponse,
} from "./codec.js";
import { parsePeerId, routingKey } from "../util/peer-text.js";
import type { ServiceRegistry } from "./service-registry.js";
import {
  READ_INDEX_SERVICE_NAME,
  decodeReadIndexRequest,
  encodeReadIndexResponse,
} from "./read-index-codec.js";
import type { RaftService } from "../node/ports.js";

/** braft's service name on the wire. */
export const RAFT_SERVICE_NAME = "braft.RaftService";

function keyOf(peerId: PeerKey): string {
  const peer = parsePeerId(peerId);
  if (peer === undefined) throw new RaftError("EINVAL", `invalid PeerId "${peerId}"`);
  return routingKey(peer);
}

/** The nodes of every group hosted by one server. */
export class NodeDirectory {
  private readonly groups = new Map<string, Map<string, RaftService>>();

  /** Adds a node; EEXIST if (groupId, peerId) is taken. */
  register(groupId: string, peerId: PeerKey, service: RaftService): void {
    const key = keyOf(peerId);
    let nodes = this.groups.get(groupId);
    if (nodes === undefined) {
      nodes = new Map();
      this.groups.set(groupId, nodes);
    }
    if (nodes.has(key)) throw new RaftError("EEXIST", `node ${groupId}/${key} is already registered`);
    nodes.set(key, service);
  }

  /** Removes a node; unknown nodes are ignored. */
  unregister(groupId: string, peerId: PeerKey): void {
    const nodes = this.groups.get(groupId);
    if (nodes === undefined) return;
    nodes.delete(keyOf(peerId));
    if (nodes.size === 0) this.groups.delete(groupId);
  }

  /** The node for a request, or braft's ENOENT. */
  find(groupId: string, peerId: PeerKey): RaftService {
    // Decoded requests carry canonical ids, which are the routing key unless a witness role is set.
    const direct = this.groups.get(groupId)?.get(peerId);
    if (direct !== undefined) return direct;
    const peer = parsePeerId(peerId);
    if (peer === undefined) throw new RaftError("EINVAL", "peer_id invalid");
    const service = this.groups.get(groupId)?.get(routingKey(peer));
    if (service === undefined) throw new RaftError("ENOENT", "peer_id not exist");
    return service;
  }

  /** Every node, or those of one group, ordered by group then peer. */
  nodes(groupId?: string): RaftService[] {
    const groups = groupId === undefined ? [...this.groups.keys()].sort() : [groupId];
    return groups.flatMap((group) => {
      const nodes = this.groups.get(group);
      return nodes === undefined ? [] : [...nodes.keys()].sort().map((key) => nodes.get(key)!);
    });
  }

  /** The groups hosted, for status pages. */
  groupIds(): string[] {
    return [...this.groups.keys()];
  }
}

/** Serves braft.RaftService from `directory` on `registry`. */
export function addRaftService(registry: ServiceRegistry, directory: NodeDirectory): void {
  const vote = (preVote: boolean) => async (bytes: Uint8Array) => {
    const request = decodeVoteRequest(bytes, preVote);
    const response = await directory.find(request.groupId, request.peerId).requestVote(request);
    return encodeVoteResponse(response);
  };
  registry.addMethod(READ_INDEX_SERVICE_NAME, "read_index", async (bytes) => {
    const request = decodeReadIndexRequest(bytes);
    const service = directory.find(request.groupId, request.peerId);
    if (service.readIndex === undefined)
      throw new RaftError("ENOSYS", "read_index is not served by this node");
    return encodeReadIndexResponse(await service.readIndex(request));
  });
  registry.addMethod(RAFT_SERVICE_NAME, "pre_vote", vote(true));
  registry.addMethod(RAFT_SERVICE_NAME, "request_vote", vote(false));
  registry.addMethod(RAFT_SERVICE_NAME, "append_entries", async (bytes, ctx) => {
    const request = decodeAppendEntriesRequest(bytes, ctx.requestAttachment);
    const response = await directory.find(request.groupId, request.peerId).appendEntries(request);
    return encodeAppendEntriesResponse(response);
  });
  registry.addMethod(RAFT_SERVICE_NAME, "timeout_now", async (bytes) => {
    const request = decodeTimeoutNowRequest(bytes);
    const response = await directory.find(request.groupId, request.peerId).timeoutNow(request);
    return encodeTimeoutNowResponse(response);
  });
  registry.addMethod(RAFT_SERVICE_NAME, "install_snapshot", async (bytes) => {
    const request = decodeInstallSnapshotRequest(bytes);
    const node = directory.find(request.groupId, request.peerId);
    if (node.installSnapshot === undefined) throw new RaftError("ENOSYS", "install_snapshot not supported");
    return encodeInstallSnapshotResponse(await node.installSnapshot(request));
  });
}
