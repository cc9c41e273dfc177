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
import { RaftError, type RaftNode, type RaftServer } from "../../src/index.js";
import { CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import type { CounterStateMachine } from "./counter-state-machine.js";
import { encodeCounterAnswer, fetchAddEntryOf, type CounterAnswer } from "./counter-wire.js";

export interface CounterServiceOptions {
  /** Apply with the leader's term as expectedTerm, so an entry never lands in a later term (true). */
  readonly checkTerm: boolean;
  /** `get` confirms leadership through readIndex before answering (true). */
  readonly readIndex: boolean;
}

/**
 * Serves example.CounterService for `node` on `server`: `get` as a typed method, `fetch_add` on
 * raw bytes (counter-wire.ts), since every write goes through it.
 */
export function serveCounter(
  server: RaftServer,
  node: RaftNode,
  fsm: CounterStateMachine,
  options: CounterServiceOptions,
): void {
  server.addService(CounterService, {
    async get() {
      if (!fsm.isLeader()) return redirect(node, true);
      if (options.readIndex) {
        try {
          await node.readIndex();
        } catch {
          return redirect(node, true); // a read changes nothing
        }
      }
      return { success: true, value: fsm.value };
    },
  });
  server.addMethod(CounterService.typeName, "fetch_add", async (request) => {
    const entry = fetchAddEntryOf(request);
    return encodeCounterAnswer(await fetchAdd(node, fsm, options, entry));
  });
}

/** braft's fetch_add: replicates `entry` (the serialized request) and answers the value before the add. */
async function fetchAdd(
  node: RaftNode,
  fsm: CounterStateMachine,
  options: CounterServiceOptions,
  entry: Uint8Array,
): Promise<CounterAnswer> {
  const term = fsm.leaderTerm;
  if (term < 0) return redirect(node, true);
  try {
    const applied = await node.apply(entry, options.checkTerm ? { expectedTerm: term } : {});
    return { success: true, value: applied.result as bigint };
  } catch (error) {
    return redirect(node, RaftError.is(error) && error.outcome === "refused");
  }
}

/** braft's redirect: success=false with the leader's PeerId when known; `refused` when nothing took effect. */
function redirect(node: RaftNode, refused: boolean): CounterAnswer {
  const leader = node.leaderId();
  return { success: false, refused, ...(leader === undefined ? {} : { redirect: leader.toString() }) };
}
