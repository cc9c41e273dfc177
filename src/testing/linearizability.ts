/**
 * A linearizability checker for a map of 64-bit registers (braft's atomic example: get, exchange,
 * compare_exchange), in the spirit of Knossos and porcupine.
 *
 * The history is split by key (a map of registers is linearizable iff each register is: P-
 * compositionality), and each key is checked with Wing & Gong's search as improved by Lowe: the
 * operations' call and return events sit in one doubly linked list ordered by time; the search
 * linearizes the earliest call it can (lifting the call and its return out of the list),
 * backtracks when it meets a return whose call it has not linearized, and memoizes every
 * (set of linearized operations, register value) it has reached, so no configuration is explored
 * twice. The set is hashed incrementally (Zobrist) and stored compactly for the exact check of a
 * cache hit: operations are numbered by call time, and the set is kept as `h` (one past the
 * highest linearized number) plus the sorted numbers below `h` not linearized. That list holds
 * only the unknown operations left out and the few still concurrent, so a long history costs
 * memory in proportion to its length, not to its length squared.
 *
 * Outcomes: `ok` operations happened between their call and return with the recorded output;
 * `fail` operations certainly did not happen and are dropped; `unknown` operations may or may not
 * have happened: their return is at +infinity and their output is unconstrained, so once every
 * completed operation is linearized the rest may be placed at the end (equivalently, never).
 * Unknown gets constrain nothing and are dropped.
 *
 * The search is bounded by `maxSteps` per key; beyond it the verdict is "unknown" rather than a
 * hang. On a violation the checker shrinks the offending key's history to a small sub-history that
 * is itself not linearizable (the shortest prefix by call time, then operations dropped one at a
 * time while it stays non-linearizable) and `formatHistory` prints it.
 */

/** What a client asked for. Values are int64 (bigint), as in braft's atomic.proto. */
export type RegisterInput =
  | { readonly type: "get" }
  | { readonly type: "exchange"; readonly value: bigint }
  | { readonly type: "compare_exchange"; readonly expected: bigint; readonly value: bigint };

/**
 * What it got back (for `ok` operations): the register's value before the operation (for a get,
 * its value), and for compare_exchange whether it swapped.
 */
export interface RegisterOutput {
  readonly previous: bigint;
  readonly success?: boolean | undefined;
}

/** How an operation ended, as far as the client can tell. */
export type Outcome = "ok" | "fail" | "unknown";

/** One operation of a history. Times are any monotonic clock (e.g. ms); only their order matters. */
export interface RegisterOperation {
  readonly client: number | string;
  readonly key: string;
  readonly input: RegisterInput;
  readonly outcome: Outcome;
  /** Required when `outcome` is "ok". */
  readonly output?: RegisterOutput | undefined;
  readonly callMs: number;
  /** Ignored (taken as +infinity) unless `outcome` is "ok". */
  readonly returnMs?: number | undefined;
}

export interface CheckOptions {
  /** Initial value of every register; braft's atomic reads an absent id as 0. */
  readonly initial?: bigint | undefined;
  /** Search steps per key before giving up with "unknown" (default 20 million). */
  readonly maxSteps?: number | undefined;
  /** Shrink a violation to a small sub-history (default true). */
  readonly shrink?: boolean | undefined;
}

export type Verdict = true | false | "unknown";

export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  readonly operations: number;
  readonly steps: number;
}

export interface LinearizabilityResult {
  /** true, false, or "unknown" when some key's search hit `maxSteps` (and none failed). */
  readonly linearizable: Verdict;
  readonly keys: readonly KeyResult[];
  /** The first key found not linearizable. */
  readonly failingKey?: string | undefined;
  /** A small non-linearizable sub-history of `failingKey`, in call order. */
  readonly counterexample?: readonly RegisterOperation[] | undefined;
  /**
   * Context for reading the counterexample: the operations of the full history that wrote the
   * values it observes but that shrinking dropped (they are not needed for the violation).
   */
  readonly context?: readonly RegisterOperation[] | undefined;
}

const DEFAULT_MAX_STEPS = 20_000_000;
const NO_VALUE = -1;

/** Checks a whole history, key by key. */
export function checkLinearizability(
  history: readonly RegisterOperation[],
  options: CheckOptions = {},
): LinearizabilityResult {
  const byKey = new Map<string, RegisterOperation[]>();
  for (const op of history) {
    if (!relevant(op)) continue;
    let ops = byKey.get(op.key);
    if (ops === undefined) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  const keys: KeyResult[] = [];
  let sawUnknown = false;
  for (const [key, ops] of [...byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const result = checkKey(ops, options);
    keys.push({ key, ...result, operations: ops.length });
    if (result.verdict === false) {
      const counterexample = options.shrink === false ? ops : shrink(ops, options);
      const context = writersOfObserved(counterexample, ops);
      return { linearizable: false, keys, failingKey: key, counterexample, context };
    }
    if (result.verdict === "unknown") sawUnknown = true;
  }
  return { linearizable: sawUnknown ? "unknown" : true, keys };
}

/** Failed operations never happened, and an unknown get constrains nothing. */
function relevant(op: RegisterOperation): boolean {
  if (op.outcome === "fail") return false;
  if (op.outcome === "unknown") return op.input.type !== "get";
  if (op.output === undefined) throw new Error(`ok operation without output: ${describe(op)}`);
  return true;
}

/** Checks the operations of one key (all relevant). */
export function checkKey(
  ops: readonly RegisterOperation[],
  options: CheckOptions = {},
): { verdict: Verdict; steps: number } {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  return new KeySearch(withoutUnseenUnknownWrites(ops), options.initial ?? 0n, maxSteps).run();
}

/**
 * Drops the unknown writes whose value no completed operation observed and no compare_exchange
 * expects; the verdict is unchanged. Such a write W may have taken effect in a linearization,
 * but then the operation right after it was not a completed one (that would have observed W's
 * value), nor a compare_exchange that swapped (it would expect W's value): it was an unknown
 * operation that left the value alone (drop it too) or an unknown exchange, which overwrites the
 * value whatever it was. So the same linearization without W (and those) is valid as well.
 * Each unknown write otherwise stays open to the end of the history, and a few hundred of them
 * make the search's configurations multiply (a 600-s chaos run exceeded 20 million steps).
 */
function withoutUnseenUnknownWrites(ops: readonly RegisterOperation[]): readonly RegisterOperation[] {
  let kept = ops;
  for (;;) {
    const seen = new Set<bigint>();
    for (const op of kept) {
      if (op.outcome === "ok" && op.output !== undefined) seen.add(op.output.previous);
      if (op.input.type === "compare_exchange") seen.add(op.input.expected);
    }
    const next = kept.filter(
      (op) => op.outcome === "ok" || op.input.type === "get" || seen.has(op.input.value),
    );
    if (next.length === kept.length) return kept;
    kept = next; // a dropped compare_exchange no longer expects anything: look again
  }
}

/** An operation compiled to interned values: step() is then integer comparisons only. */
interface CompiledOp {
  readonly kind: 0 | 1 | 2; // get, exchange, compare_exchange
  readonly unknown: boolean;
  readonly value: number; // exchange/cas: the value written
  readonly expected: number; // cas
  readonly previous: number; // ok: the value observed before (NO_VALUE if never written)
  readonly success: boolean; // ok cas
}

class KeySearch {
  private readonly n: number;
  private readonly compiled: CompiledOp[] = [];
  private readonly initial: number;
  /** Doubly linked list of events; event 2k is op k's call, 2k+1 its return; HEAD = 2n. */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  private readonly zobristA: Int32Array;
  private readonly zobristB: Int32Array;
  /** One past the highest linearized operation. */
  private h = 0;
  /** The operations below `h` not linearized, ascending. */
  private readonly unset: number[] = [];
  private readonly cache = new Map<number, { state: number; h: number; unset: Int32Array }[]>();

  constructor(
    history: readonly RegisterOperation[],
    initial: bigint,
    private readonly maxSteps: number,
  ) {
    // Numbered by call time, so the linearized set is nearly a prefix (see `unset`).
    const ops = [...history].sort((a, b) => a.callMs - b.callMs);
    this.n = ops.length;
    const interned = new Map<bigint, number>();
    const intern = (v: bigint): number => {
      let id = interned.get(v);
      if (id === undefined) interned.set(v, (id = interned.size));
      return id;
    };
    this.initial = intern(initial);
    for (const op of ops) {
      const { input } = op;
      if (input.type === "exchange") intern(input.value);
      if (input.type === "compare_exchange") intern(input.value);
    }
    const lookup = (v: bigint): number => interned.get(v) ?? NO_VALUE;
    for (const op of ops) {
      const { input } = op;
      const unknown = op.outcome !== "ok";
      this.compiled.push({
        kind: input.type === "get" ? 0 : input.type === "exchange" ? 1 : 2,
        unknown,
        value: input.type === "get" ? NO_VALUE : lookup(input.value),
        expected: input.type === "compare_exchange" ? lookup(input.expected) : NO_VALUE,
        previous: unknown || op.output === undefined ? NO_VALUE : lookup(op.output.previous),
        success: op.output?.success === true,
      });
    }
    this.head = 2 * this.n;
    this.next = new Int32Array(2 * this.n + 1).fill(-1);
    this.prev = new Int32Array(2 * this.n + 1).fill(-1);
    const events: { id: number; time: number; isCall: boolean }[] = [];
    ops.forEach((op, k) => {
      events.push({ id: 2 * k, time: op.callMs, isCall: true });
      const ret = op.outcome === "ok" ? (op.returnMs ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY;
      events.push({ id: 2 * k + 1, time: ret, isCall: false });
    });
    // Calls before returns at equal times: touching operations count as concurrent (permissive).
    events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.id - b.id : a.isCall ? -1 : 1));
    let last = this.head;
    for (const event of events) {
      this.next[last] = event.id;
      this.prev[event.id] = last;
      last = event.id;
    }
    const random = splitmix32(0x5eed);
    this.zobristA = Int32Array.from({ length: this.n }, () => random());
    this.zobristB = Int32Array.from({ length: this.n }, () => random());
  }

  /** The register's value after op k from `state`, or NO_VALUE if k cannot run there. */
  private step(state: number, k: number): number {
    const op = this.compiled[k] as CompiledOp;
    switch (op.kind) {
      case 0:
        return state === op.previous ? state : NO_VALUE;
      case 1:
        return op.unknown || state === op.previous ? op.value : NO_VALUE;
      default: {
        const swaps = state === op.expected;
        if (op.unknown) return swaps ? op.value : state;
        if (state !== op.previous || swaps !== op.success) return NO_VALUE;
        return swaps ? op.value : state;
      }
    }
  }

  run(): { verdict: Verdict; steps: number } {
    const { next, head } = this;
    const stackOps: number[] = [];
    const stackStates: number[] = [];
    const stackH: number[] = [];
    let state = this.initial;
    let hashA = 0;
    let hashB = 0;
    let steps = 0;
    let event = next[head] as number;
    while (next[head] !== -1) {
      if (++steps > this.maxSteps) return { verdict: "unknown", steps };
      const k = event >> 1;
      if ((event & 1) === 0) {
        const after = this.step(state, k);
        if (after !== NO_VALUE) {
          const a = hashA ^ (this.zobristA[k] as number);
          const b = hashB ^ (this.zobristB[k] as number);
          const previousH = this.include(k);
          if (this.remember(a, b, after)) {
            stackOps.push(k);
            stackStates.push(state);
            stackH.push(previousH);
            state = after;
            hashA = a;
            hashB = b;
            this.lift(event);
            event = next[head] as number;
            continue;
          }
          this.exclude(k, previousH);
        }
        event = next[event] as number;
        continue;
      }
      // A return whose call is not linearized. Only unknown operations remain optional: their
      // returns sort after every completed one, so everything completed is linearized by now.
      if ((this.compiled[k] as CompiledOp).unknown) return { verdict: true, steps };
      const undone = stackOps.pop();
      if (undone === undefined) return { verdict: false, steps };
      state = stackStates.pop() as number;
      hashA ^= this.zobristA[undone] as number;
      hashB ^= this.zobristB[undone] as number;
      this.exclude(undone, stackH.pop() as number);
      this.unlift(2 * undone);
      event = next[2 * undone] as number;
    }
    return { verdict: true, steps };
  }

  /** Adds op k to the linearized set; returns the `h` to restore in `exclude`. */
  private include(k: number): number {
    const previousH = this.h;
    if (k >= previousH) {
      for (let i = previousH; i < k; i++) this.unset.push(i);
      this.h = k + 1;
    } else {
      this.unset.splice(this.unsetPosition(k), 1);
    }
    return previousH;
  }

  /** Undoes `include(k)`; calls pair up last-in first-out, as the search's stack does. */
  private exclude(k: number, previousH: number): void {
    if (k >= previousH) {
      this.unset.length -= k - previousH;
      this.h = previousH;
    } else {
      this.unset.splice(this.unsetPosition(k), 0, k);
    }
  }

  /** Where k is, or belongs, in `unset` (binary search). */
  private unsetPosition(k: number): number {
    let lo = 0;
    let hi = this.unset.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.unset[mid] as number) < k) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Records (linearized set, state); false if it was seen before. */
  private remember(hashA: number, hashB: number, state: number): boolean {
    const key = (hashA >>> 0) * 0x200000 + ((hashB ^ Math.imul(state + 1, 0x9e3779b1)) & 0x1fffff);
    const bucket = this.cache.get(key);
    if (bucket === undefined) {
      this.cache.set(key, [{ state, h: this.h, unset: Int32Array.from(this.unset) }]);
      return true;
    }
    for (const seen of bucket) {
      if (seen.state === state && seen.h === this.h && sameNumbers(seen.unset, this.unset)) return false;
    }
    bucket.push({ state, h: this.h, unset: Int32Array.from(this.unset) });
    return true;
  }

  /** Removes a call event and its return from the list (dancing links: they keep their pointers). */
  private lift(call: number): void {
    this.unlink(call);
    this.unlink(call + 1);
  }

  private unlift(call: number): void {
    this.relink(call + 1);
    this.relink(call);
  }

  private unlink(e: number): void {
    const p = this.prev[e] as number;
    const q = this.next[e] as number;
    this.next[p] = q;
    if (q !== -1) this.prev[q] = p;
  }

  private relink(e: number): void {
    const p = this.prev[e] as number;
    const q = this.next[e] as number;
    this.next[p] = e;
    if (q !== -1) this.prev[q] = e;
  }
}

function sameNumbers(a: Int32Array, b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function splitmix32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return z ^ (z >>> 16);
  };
}

/**
 * A small non-linearizable sub-history of one key's non-linearizable operations: the shortest
 * prefix in call order that fails (binary search, assuming failures persist as operations are
 * added, which is checked), then each operation dropped, latest first, while the rest still fails.
 * The result is itself a witness (it is not linearizable), though dropping a write can make a
 * read look stranger than it was in the full history; the full key history stays available.
 */
function shrink(ops: readonly RegisterOperation[], options: CheckOptions): RegisterOperation[] {
  const fails = (candidate: readonly RegisterOperation[]): boolean =>
    checkKey(candidate, { ...options, maxSteps: Math.min(options.maxSteps ?? 1_000_000, 1_000_000) })
      .verdict === false;
  const ordered = [...ops].sort((a, b) => a.callMs - b.callMs);
  let low = 1;
  let high = ordered.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (fails(ordered.slice(0, mid))) high = mid;
    else low = mid + 1;
  }
  let current = fails(ordered.slice(0, high)) ? ordered.slice(0, high) : ordered;
  if (current.length > 400) return current; // greedy dropping would be quadratic; the prefix will do
  for (let i = current.length - 1; i >= 0; i--) {
    const without = current.filter((_, j) => j !== i);
    if (fails(without)) current = without;
  }
  return current;
}

/** The operations of `all` that wrote a value `subset` observes, when `subset` lacks them. */
function writersOfObserved(
  subset: readonly RegisterOperation[],
  all: readonly RegisterOperation[],
): RegisterOperation[] {
  const written = (op: RegisterOperation): bigint | undefined =>
    op.input.type === "get" ? undefined : op.input.value;
  const observed = new Set(subset.map((op) => op.output?.previous).filter((v) => v !== undefined));
  for (const op of subset) observed.delete(written(op) as bigint);
  return all.filter((op) => !subset.includes(op) && observed.has(written(op) as bigint));
}

/**
 * One line per operation, in call order, times relative to the first call. `context` operations
 * (e.g. {@link LinearizabilityResult.context}) are merged in and marked with "ctx".
 */
export function formatHistory(
  ops: readonly RegisterOperation[],
  context: readonly RegisterOperation[] = [],
): string {
  const marked = new Set(context);
  const ordered = [...ops, ...context].sort((a, b) => a.callMs - b.callMs);
  const origin = ordered[0]?.callMs ?? 0;
  const time = (ms: number | undefined): string =>
    ms === undefined || !Number.isFinite(ms) ? "       ∞" : (ms - origin).toFixed(1).padStart(8);
  return ordered
    .map(
      (op) =>
        `  ${marked.has(op) ? "ctx" : "   "} client ${String(op.client).padEnd(4)} [${time(op.callMs)} ..${time(op.outcome === "ok" ? op.returnMs : undefined)} ms] ${describe(op)}`,
    )
    .join("\n");
}

/** e.g. `cas(k1, 3 -> 7) = true (was 3)`, `exchange(k1, 9) = ? (unknown)`. */
export function describe(op: RegisterOperation): string {
  const { input } = op;
  const call =
    input.type === "get"
      ? `get(${op.key})`
      : input.type === "exchange"
        ? `exchange(${op.key}, ${input.value})`
        : `cas(${op.key}, ${input.expected} -> ${input.value})`;
  if (op.outcome !== "ok") return `${call} = ? (${op.outcome})`;
  const out = op.output;
  if (out === undefined) return `${call} = ?`;
  if (input.type === "get") return `${call} = ${out.previous}`;
  if (input.type === "exchange") return `${call} = ${out.previous}`;
  return `${call} = ${out.success === true} (was ${out.previous})`;
}
