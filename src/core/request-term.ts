/**
 * A request's term, looked at once before its kind is (etcd's Step). A request from an older
 * term is refused with this node's term, whatever its kind, so that its sender learns the newer
 * term and steps down. A newer term carried by a leader's request (append, install) makes this
 * node that leader's follower at once.
 *
 * A TimeoutNow from a newer term makes this node a follower of that term with no known leader,
 * and is then refused (braft's handle_timeout_now_request steps down with EHIGHERTERMREQUEST and
 * does not campaign): only the leader this node follows in its own term may hand it leadership.
 *
 * A vote request keeps a say over a newer term, as in etcd and braft: it is adopted only when no
 * follower lease protects the current leader (the vote handler decides, and a pre-vote never
 * changes the term).
 */
import type { CoreState } from "./core-state.js";
import type { InboundRequest, Reply } from "./messages.js";

/** Handles the request's term; false when the request is answered already (an older term). */
export function stepRequestTerm(
  core: CoreState,
  input: InboundRequest,
  replyId: number,
  nowMs: number,
): boolean {
  const { term } = input.request;
  if (term < core.term) {
    core.reply(staleTermRefusal(core, input.kind, replyId));
    return false;
  }
  if (term <= core.term) return true;
  if (input.kind === "append" || input.kind === "installSnapshot") {
    const leader = input.request.serverId;
    core.becomeFollower(term, leader, nowMs, `request from leader ${leader}`);
  } else if (input.kind === "timeoutNow") {
    core.becomeFollower(term, "", nowMs, `higher term ${term} in TimeoutNow from ${input.request.serverId}`);
  }
  return true;
}

/** The refusal of a request from an older term, in the form its kind answers. */
function staleTermRefusal(core: CoreState, kind: InboundRequest["kind"], replyId: number): Reply {
  const term = core.term;
  switch (kind) {
    case "vote":
      return {
        kind,
        replyId,
        response: { term, granted: false, rejectedByLease: false, disrupted: false, previousTerm: term },
      };
    case "append":
      return {
        kind,
        replyId,
        response: { term, success: false, lastLogIndex: core.log.lastIndex(), readonly: core.readonly },
      };
    case "timeoutNow":
    case "installSnapshot":
      return { kind, replyId, response: { term, success: false } };
  }
}
