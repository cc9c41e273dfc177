/**
 * Gathers the Quiesce calls a server makes to one peer server during an event-loop turn into one
 * `quiesce_batch` call (docs/quiescence.md, "A write on a quiet group"). Spread over thousands of
 * groups, nearly every write wakes a quiet group, which quiesces again one heartbeat interval
 * later; the heartbeat timers of many groups fire in the same slot (env.ts), so their Quiesce
 * messages leave together. One call per group and follower cost as much CPU as the write itself.
 *
 * Each request still gets its own outcome, exactly what its own call would have returned, so the
 * node layer and the core see no difference. A server that does not know `quiesce_batch` (a
 * tsraft from before it) answers ENOSYS and gets one `quiesce` per request from then on.
 */
import { RaftError } from "../core/errors.js";
import type { QuiesceRequest, QuiesceResponse } from "../core/messages.js";
import {
  decodeQuiesceBatchResponse,
  decodeQuiesceResponse,
  encodeQuiesceBatchRequest,
  encodeQuiesceRequest,
} from "./liveness-codec.js";

/** One call of tsraft.LivenessService to the server at `endpoint`; resolves with its response message. */
export type LivenessCall = (
  endpoint: string,
  method: "quiesce" | "quiesce_batch",
  message: Uint8Array,
  timeoutMs: number,
) => Promise<Uint8Array>;

interface Waiting {
  readonly request: QuiesceRequest;
  readonly timeoutMs: number;
  readonly resolve: (response: QuiesceResponse) => void;
  readonly reject: (error: unknown) => void;
}

export class QuiesceBatcher {
  /** Requests of this turn, by the endpoint of the server they go to. */
  readonly #waiting = new Map<string, Waiting[]>();
  /** Servers that answered ENOSYS to `quiesce_batch`: one `quiesce` call per request. */
  readonly #unbatched = new Set<string>();
  #flushScheduled = false;

  constructor(private readonly call: LivenessCall) {}

  /** Sends `request` to the server at `endpoint` with the other requests of this turn. */
  quiesce(endpoint: string, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse> {
    if (this.#unbatched.has(endpoint)) return this.#callOne(endpoint, request, timeoutMs);
    return new Promise((resolve, reject) => {
      const waiting: Waiting = { request, timeoutMs, resolve, reject };
      const list = this.#waiting.get(endpoint);
      if (list === undefined) this.#waiting.set(endpoint, [waiting]);
      else list.push(waiting);
      if (this.#flushScheduled) return;
      this.#flushScheduled = true;
      // The check phase: every timer and read of the turn has queued its requests by then.
      setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batches = [...this.#waiting];
    this.#waiting.clear();
    for (const [endpoint, list] of batches) this.#send(endpoint, list);
  }

  #send(endpoint: string, list: readonly Waiting[]): void {
    if (list.length === 1 || this.#unbatched.has(endpoint)) {
      for (const w of list) this.#callOne(endpoint, w.request, w.timeoutMs).then(w.resolve, w.reject);
      return;
    }
    const timeoutMs = list.reduce((longest, w) => Math.max(longest, w.timeoutMs), 0);
    const message = encodeQuiesceBatchRequest(list.map((w) => w.request));
    this.call(endpoint, "quiesce_batch", message, timeoutMs).then(
      (bytes) => settleAll(list, bytes),
      (error: unknown) => {
        if (!RaftError.is(error) || error.code !== "ENOSYS") {
          for (const w of list) w.reject(error);
          return;
        }
        this.#unbatched.add(endpoint);
        this.#send(endpoint, list);
      },
    );
  }

  async #callOne(endpoint: string, request: QuiesceRequest, timeoutMs: number): Promise<QuiesceResponse> {
    return decodeQuiesceResponse(
      await this.call(endpoint, "quiesce", encodeQuiesceRequest(request), timeoutMs),
    );
  }
}

/** Hands each waiting request its outcome from a batch's answer (all fail if it is malformed). */
function settleAll(list: readonly Waiting[], bytes: Uint8Array): void {
  let outcomes;
  try {
    outcomes = decodeQuiesceBatchResponse(bytes, list.length);
  } catch (error) {
    for (const w of list) w.reject(error);
    return;
  }
  list.forEach((w, i) => {
    const outcome = outcomes[i] as QuiesceResponse | RaftError;
    if (RaftError.is(outcome)) w.reject(outcome);
    else w.resolve(outcome);
  });
}
