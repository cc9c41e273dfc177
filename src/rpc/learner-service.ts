/**
 * tsraft.LearnerService (proto/tsraft/cli.proto): learner administration beyond braft, with
 * CliService's conventions. Each call goes to the node named by `leader_id` and answers with the
 * learners before and after the change; errors are those of CliService and of the node (EPERM
 * off the leader, EBUSY during another change).
 */
import { RaftError } from "../core/errors.js";
import { getNode, peerOf, type NodeLookup } from "./cli-nodes.js";
import { LearnerService } from "./gen/tsraft/cli_pb.js";
import type { ServiceRegistry } from "./service-registry.js";
import type { NodeAdmin } from "../node/ports.js";

interface LearnersRequest {
  readonly groupId: string;
  readonly leaderId: string;
  readonly learners: readonly string[];
}

type Change = (
  node: NodeAdmin,
  learners: readonly string[],
  old: readonly string[],
) => Promise<readonly string[]>;

/** Runs one learner change on the leader node and reports the learners before and after. */
function learnerCall(lookup: NodeLookup, change: Change) {
  return async (request: LearnersRequest) => {
    const node = getNode(lookup, request.groupId, request.leaderId);
    const learners = [...new Set(request.learners.map((l) => peerOf(l)))];
    const { peers, learners: current } = node.getStatus();
    const oldLearners = [...current];
    const voter = learners.find((l) => peers.includes(l));
    if (voter !== undefined && change !== remove) {
      throw new RaftError("EINVAL", `${voter} is a voter of group ${request.groupId}; remove_peer it first`);
    }
    const newLearners = await change(node, learners, oldLearners);
    return { oldLearners, newLearners: [...newLearners].sort() };
  };
}

const add: Change = async (node, learners, old) => {
  await node.addLearners(learners);
  return [...new Set([...old, ...learners])];
};

const remove: Change = async (node, learners, old) => {
  await node.removeLearners(learners);
  return old.filter((l) => !learners.includes(l));
};

/** Replaces the learners in one configuration change; the voters stay. */
const reset: Change = async (node, learners) => {
  await node.changePeers([...node.getStatus().peers, ...learners.map((l) => `${l}/learner`)]);
  return learners;
};

/** Serves tsraft.LearnerService for the nodes `lookup` finds. */
export function addLearnerService(registry: ServiceRegistry, lookup: NodeLookup): void {
  registry.addService(LearnerService, {
    add_learners: learnerCall(lookup, add),
    remove_learners: learnerCall(lookup, remove),
    reset_learners: learnerCall(lookup, reset),
  });
}
