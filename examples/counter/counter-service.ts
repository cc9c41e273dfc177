/**
 * example.CounterService on a tsraft node, with braft's semantics: fetch_add replicates the request
 * through raft (with the leader's term as expected term, braft's --check_term) and answers the value
 * before the add; a node that is not a caught-up leader answers success=false with `redirect` set to
 * the leader's PeerId when it knows one. `get` answers on the leader only; with `readIndex` (the
 * default) it first confirms leadership with a quorum, so the value it returns is linearizable
 * (braft's counter answers from the leader's memory, which a deposed leader may still do).
 */
import { toBinary } from "@bufbuild/protobuf";
import type { RaftNode } from "../../src/index.js";
import { FetchAddRequestSchema, type CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import type { ServiceImpl } from "../../src/rpc/service-registry.js";
import type { CounterStateMachine } from "./counter-state-machine.js";

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
  const redirect = () => {
    const leader = node.leaderId();
    return leader === undefined ? { success: false } : { success: false, redirect: leader.toString() };
  };
  return {
    async fetch_add(request) {
      const term = fsm.leaderTerm;
      if (term < 0) return redirect();
      // braft logs the serialized request; followers (tsraft or braft) parse it back.
      const data = toBinary(FetchAddRequestSchema, request);
      try {
        const applied = await node.apply(data, options.checkTerm ? { expectedTerm: term } : {});
        return { success: true, value: applied.result as bigint };
      } catch {
        return redirect();
      }
    },
    async get() {
      if (!fsm.isLeader()) return redirect();
      if (options.readIndex) {
        try {
          await node.readIndex();
        } catch {
          return redirect();
        }
      }
      return { success: true, value: fsm.value };
    },
  };
}
