/**
 * The client history of a simulated run, in the register model of linearizability.ts: every
 * write (`exchange` of a unique value) and every read (`get`), each with the logical instant it
 * was called and returned. Instants come from one counter, so two operations at the same virtual
 * millisecond keep the order in which they really happened.
 */
import {
  checkLinearizability,
  formatHistory,
  type LinearizabilityResult,
  type RegisterInput,
  type RegisterOperation,
  type RegisterOutput,
} from "./linearizability.js";

/** How one recorded operation ended. */
export interface PendingOperation {
  ok(output: RegisterOutput): void;
  /** It certainly did not happen (refused before it was proposed). */
  fail(): void;
  /** It may or may not have happened. */
  unknown(): void;
}

export class SimHistory {
  private readonly operations: RegisterOperation[] = [];
  private instant = 0;
  /** Operations called and not yet settled: at the end they count as unknown. */
  private readonly open = new Set<PendingOperation>();
  /** Reads by kind, for the run's summary. */
  readonly reads = { lease: 0, leader: 0, follower: 0, learner: 0 };

  get size(): number {
    return this.operations.length;
  }

  /** Records the call of an operation now; settle it exactly once. */
  begin(client: string, key: string, input: RegisterInput): PendingOperation {
    const callMs = this.instant++;
    let settled = false;
    const end = (op: Omit<RegisterOperation, "client" | "key" | "input" | "callMs">): void => {
      if (settled) throw new Error(`SimHistory: operation of ${client} on ${key} settled twice`);
      settled = true;
      this.open.delete(pending);
      this.operations.push({ client, key, input, callMs, ...op });
    };
    const pending: PendingOperation = {
      ok: (output) => end({ outcome: "ok", output, returnMs: this.instant++ }),
      fail: () => end({ outcome: "fail" }),
      unknown: () => end({ outcome: "unknown" }),
    };
    this.open.add(pending);
    return pending;
  }

  /** A read that happened at one instant (a lease read of local state). */
  instantRead(client: string, key: string, value: bigint): void {
    this.begin(client, key, { type: "get" }).ok({ previous: value });
  }

  /** Checks the history; a description of the violation, or undefined when linearizable. */
  check(): string | undefined {
    for (const pending of [...this.open]) pending.unknown();
    const result: LinearizabilityResult = checkLinearizability(this.operations, { maxSteps: 2_000_000 });
    if (result.linearizable === false) {
      return (
        `history not linearizable on ${result.failingKey}:\n` +
        formatHistory(result.counterexample ?? [], result.context ?? [])
      );
    }
    return undefined;
  }
}
