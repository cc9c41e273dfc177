/**
 * The single writer of a log: runs mutations one at a time, in arrival order, and merges the
 * appends that queued up while the previous write or fsync ran into one group (group commit).
 * After any failure it stays failed: the file may no longer match what memory says, so only a
 * restart, whose recovery re-reads the files, may write again.
 */
import { RaftError } from "../../core/errors.js";

/** One queued append, as the group writer sees it. */
export interface GroupOp<T> {
  readonly item: T;
  readonly bytes: number;
}

interface Pending {
  resolve(): void;
  reject(err: unknown): void;
}

type Op<T> =
  | (GroupOp<T> & Pending & { readonly kind: "append" })
  | (Pending & { readonly kind: "control"; run(): Promise<void> });

/**
 * Bound on the bytes one group writes: keeps the single write buffer (and the latency of the
 * fsync that follows) bounded when a burst of appends queues up behind a slow disk.
 */
export const GROUP_BYTES_MAX = 32 * 1024 * 1024;

export class WriteQueue<T> {
  private readonly ops: Op<T>[] = [];
  private running = false;
  /** The error that failed the storage; every later operation rejects with it. */
  failure: RaftError | undefined;

  constructor(private readonly writeGroup: (ops: readonly GroupOp<T>[]) => Promise<void>) {}

  /** Queues an append; resolves once its group is durable. */
  append(item: T, bytes: number): Promise<void> {
    return this.enqueue((p) => ({ kind: "append", item, bytes, ...p }));
  }

  /** Queues another mutation (truncate, reset) that runs alone, after everything before it. */
  control(run: () => Promise<void>): Promise<void> {
    return this.enqueue((p) => ({ kind: "control", run, ...p }));
  }

  private enqueue(make: (p: Pending) => Op<T>): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.ops.push(make({ resolve, reject }));
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.ops.length > 0) {
        const head = this.ops[0]!;
        const batch = head.kind === "append" ? this.takeAppends() : [this.ops.shift()!];
        await this.runBatch(batch, head);
      }
    } finally {
      this.running = false;
    }
  }

  /** Takes the run of appends at the head of the queue, up to GROUP_BYTES_MAX (at least one). */
  private takeAppends(): Op<T>[] {
    const batch: Op<T>[] = [];
    let bytes = 0;
    while (
      this.ops[0]?.kind === "append" &&
      (batch.length === 0 || bytes + this.ops[0].bytes <= GROUP_BYTES_MAX)
    ) {
      const op = this.ops.shift()!;
      bytes += op.kind === "append" ? op.bytes : 0;
      batch.push(op);
    }
    return batch;
  }

  private async runBatch(batch: readonly Op<T>[], head: Op<T>): Promise<void> {
    try {
      if (head.kind === "control") await head.run();
      else await this.writeGroup(batch as readonly GroupOp<T>[]);
    } catch (err) {
      this.fail(toRaftError(err));
      for (const op of batch) op.reject(this.failure);
      return;
    }
    for (const op of batch) op.resolve();
  }

  /** Enters the failed state and rejects everything still queued. */
  private fail(err: RaftError): void {
    this.failure ??= err;
    for (const op of this.ops.splice(0)) op.reject(this.failure);
  }
}

function toRaftError(err: unknown): RaftError {
  if (RaftError.is(err)) return err;
  return new RaftError("EIO", `log storage write failed: ${(err as Error).message}`, { cause: err });
}
