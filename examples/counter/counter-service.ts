/**
 * example.CounterService on a tsraft node, with braft's semantics: fetch_add replicates the request
 * through raft (with the leader's term as expected term, braft's --check_term) and answers the value
 * before the add; a node that is not a caught-up leader answers success=false with `redirect` set to
 * the leader's PeerId when it knows one. `get` answers on the leader only; with `readIndex` (the
 * default) it first confirms leadership with a quorum, so the value it returns is linearizable
 * (braft's counter answers from the leader's memory, which a deposed leader may still do).
 *
 * Beyond braft, a failed call says whether it may still take effect: `refused` (field 1000) is
 * set when nothing was proposed (RaftError.outcome "refused", and every failed get), so the
 * client may send it again; a fetch_add that failed without it may still be applied.
 */
import { RaftError, type RaftNode, type ServiceImpl } from "../../src/index.js";
import type { CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import type { CounterStateMachine } from "./counter-state-machine.js";
import { encodeFetchAddEntry } from "./fetch-add-encoding.js";

export interface CounterServiceOptions {
  /** Apply with the leader's term as expectedTerm, so an entry never lands in a later term (true). */
  readonly checkTerm: boolean;
  /** `get` confirms leadership through readIndex before answering (true). */
  readonly readIndex: boolean;
}

/** The CounterService implementation for `node`, whose state machine is `fsm`. */
export function counterService(
  node: RaftNode,
  fsm: CounterStateMachine,
  options: CounterServiceOptions,
): ServiceImpl<typeof CounterService> {
  /** braft's redirect; `refused` when the call certainly did not take effect. */
  const redirect = (refused: boolean) => {
    const leader = node.leaderId();
    return { success: false, refused, ...(leader === undefined ? {} : { redirect: leader.toString() }) };
  };
  return {
    async fetch_add(request) {
      const term = fsm.leaderTerm;
      if (term < 0) return redirect(true);
      // braft logs the serialized request; followers (tsraft or braft) parse it back.
      const data = encodeFetchAddEntry(request);
      try {
        const applied = await node.apply(data, options.checkTerm ? { expectedTerm: term } : {});
        return { success: true, value: applied.result as bigint };
      } catch (error) {
        return redirect(RaftError.is(error) && error.outcome === "refused");
      }
    },
    async get() {
      if (!fsm.isLeader()) return redirect(true);
      if (options.readIndex) {
        try {
          await node.readIndex();
        } catch {
          return redirect(true); // a read changes nothing
        }
      }
      return { success: true, value: fsm.value };
    },
  };
}
