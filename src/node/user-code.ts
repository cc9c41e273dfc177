/**
 * Containment of failures in code the node calls but does not own (the state machine, `done`
 * closures) and of its own broken invariants. Either one must stop only the node it happened in
 * (braft's ERROR state), never escape as an unhandled rejection that ends the process and every
 * other group in it.
 */
import { InvariantError, RaftError } from "../core/errors.js";

/**
 * The error that puts a node in ERROR because user code threw (or rejected) in `where`;
 * ESTATEMACHINE, with what was thrown as its cause (so its stack can be logged).
 */
export function stateMachineError(where: string, thrown: unknown): RaftError {
  if (RaftError.is(thrown) && thrown.code === "ESTATEMACHINE") return thrown;
  return new RaftError("ESTATEMACHINE", `${where} threw: ${String(thrown)}`, { cause: thrown });
}

/**
 * The error for a failure inside tsraft itself: ERAFTINTERNAL (a broken invariant or an unexpected
 * exception), unless it is a user-code failure already classified by {@link stateMachineError}.
 */
export function nodeFailureOf(thrown: unknown): RaftError {
  if (RaftError.is(thrown) && (thrown.code === "ESTATEMACHINE" || thrown.code === "ERAFTINTERNAL"))
    return thrown;
  const reason =
    thrown instanceof InvariantError
      ? `invariant broken: ${thrown.message}`
      : `unexpected error: ${String(thrown)}`;
  return new RaftError("ERAFTINTERNAL", reason, { cause: thrown });
}

/**
 * Calls `run` on every item, even when some throw (a throwing closure must not keep the
 * closures after it from ever running: their callers would wait forever); then throws the first
 * failure as a {@link stateMachineError}.
 */
export function runEach<T>(items: Iterable<T>, run: (item: T) => void, where = "a done closure"): void {
  let failure: RaftError | undefined;
  for (const item of items) {
    try {
      run(item);
    } catch (error) {
      failure ??= stateMachineError(where, error);
    }
  }
  if (failure !== undefined) throw failure;
}

/** The stack worth logging for `error`: its cause's (where the user code threw) or its own. */
export function stackOf(error: unknown): string | undefined {
  const cause: unknown = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.stack !== undefined) return cause.stack;
  return error instanceof Error ? error.stack : undefined;
}
