/**
 * braft's atomic example state machine: a map of int64 ids to int64 values, changed by
 * exchange and compare_exchange. Log entries use braft's format (one type byte, then the
 * serialized request), and snapshots use braft's: one file `data` with a line "id value" per id,
 * so logs and snapshots move between braft and tsraft atomic servers.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Status,
  type Closure,
  type Iterator,
  type SnapshotReader,
  type SnapshotWriter,
  type StateMachine,
} from "../../src/index.js";
import {
  CompareExchangeRequestSchema,
  ExchangeRequestSchema,
  GetRequestSchema,
  type CompareExchangeRequest,
  type ExchangeRequest,
  type GetRequest,
} from "../../src/rpc/gen/example/atomic_pb.js";

/** braft's AtomicOpType: the first byte of every entry. */
export const OpType = { GET: 1, EXCHANGE: 2, CAS: 3 } as const;

export type AtomicRequest =
  | { readonly type: typeof OpType.GET; readonly request: GetRequest }
  | { readonly type: typeof OpType.EXCHANGE; readonly request: ExchangeRequest }
  | { readonly type: typeof OpType.CAS; readonly request: CompareExchangeRequest };

/** What applying one entry produced: braft's AtomicResponse fields. */
export interface AtomicResult {
  readonly success: boolean;
  readonly id: bigint;
  readonly oldValue: bigint;
  readonly newValue: bigint;
}

/** The entry braft's atomic server appends for a request. */
export function encodeEntry(op: AtomicRequest): Uint8Array {
  const body =
    op.type === OpType.GET
      ? toBinary(GetRequestSchema, op.request)
      : op.type === OpType.EXCHANGE
        ? toBinary(ExchangeRequestSchema, op.request)
        : toBinary(CompareExchangeRequestSchema, op.request);
  const data = new Uint8Array(body.length + 1);
  data[0] = op.type;
  data.set(body, 1);
  return data;
}

export function decodeEntry(data: Uint8Array): AtomicRequest {
  const body = data.subarray(1);
  switch (data[0]) {
    case OpType.GET:
      return { type: OpType.GET, request: fromBinary(GetRequestSchema, body) };
    case OpType.EXCHANGE:
      return { type: OpType.EXCHANGE, request: fromBinary(ExchangeRequestSchema, body) };
    case OpType.CAS:
      return { type: OpType.CAS, request: fromBinary(CompareExchangeRequestSchema, body) };
    default:
      throw new Error(`unknown atomic op type ${data[0]}`);
  }
}

export class AtomicStateMachine implements StateMachine {
  readonly values = new Map<bigint, bigint>();
  /** The term this node leads, or -1 (braft's _leader_term). */
  leaderTerm = -1;
  appliedIndex = 0;
  /** Lease reads waiting for the map to reach an index, by that index. */
  private readonly applyWaiters: { index: number; resolve: () => void }[] = [];

  onApply(iter: Iterator): void {
    for (const entry of iter) {
      const result = this.execute(decodeEntry(entry.data));
      this.appliedIndex = entry.index;
      entry.done?.setResult?.(result);
    }
    this.wakeApplyWaiters();
  }

  /**
   * Resolves true once the map holds every entry through `index`, false after `timeoutMs`
   * (a node that stopped applying, e.g. in ERROR, must not hold a read forever).
   */
  waitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (this.appliedIndex >= index) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.applyWaiters.push({
        index,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
  }

  private wakeApplyWaiters(): void {
    for (let i = this.applyWaiters.length - 1; i >= 0; i--) {
      const waiter = this.applyWaiters[i];
      if (waiter === undefined || waiter.index > this.appliedIndex) continue;
      this.applyWaiters.splice(i, 1);
      waiter.resolve();
    }
  }

  /** The value of `id` (absent ids read as 0, as braft's get). */
  get(id: bigint): bigint {
    return this.values.get(id) ?? 0n;
  }

  private execute(op: AtomicRequest): AtomicResult {
    const id = op.request.id;
    const old = this.get(id);
    switch (op.type) {
      case OpType.GET:
        return { success: true, id, oldValue: old, newValue: old };
      case OpType.EXCHANGE:
        this.values.set(id, op.request.value);
        return { success: true, id, oldValue: old, newValue: op.request.value };
      case OpType.CAS: {
        // braft inserts the id (as 0) even when the compare fails; keep its map identical.
        this.values.set(id, old);
        if (old !== op.request.expectedValue) return { success: false, id, oldValue: old, newValue: old };
        this.values.set(id, op.request.newValue);
        return { success: true, id, oldValue: old, newValue: op.request.newValue };
      }
    }
  }

  async onSnapshotSave(writer: SnapshotWriter, done: Closure): Promise<void> {
    let text = "";
    for (const [id, value] of this.values) text += `${id} ${value}\n`;
    try {
      await writeFile(join(writer.path, "data"), text);
      writer.addFile("data");
      done.run(Status.OK());
    } catch (error) {
      done.run(Status.fromError(error));
    }
  }

  async onSnapshotLoad(reader: SnapshotReader): Promise<void> {
    const text = await readFile(join(reader.path, "data"), "utf8");
    this.values.clear();
    for (const line of text.split("\n")) {
      const [id, value] = line.trim().split(/\s+/);
      if (id === undefined || id === "" || value === undefined) continue;
      this.values.set(BigInt(id), BigInt(value));
    }
    this.appliedIndex = reader.loadMeta().lastIncludedIndex;
    this.wakeApplyWaiters();
  }

  onLeaderStart(term: number): void {
    this.leaderTerm = term;
  }

  onLeaderStop(): void {
    this.leaderTerm = -1;
  }

  /** The whole map, sorted by id: equal on every node that applied the same entries. */
  dump(): [string, string][] {
    return [...this.values]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, value]) => [String(id), String(value)]);
  }
}
