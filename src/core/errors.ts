/**
 * Error codes and the single error class of tsraft.
 *
 * Codes keep braft's names and numbers: POSIX errnos where braft uses them (EPERM, EBUSY...),
 * braft's own `RaftError` enum (errno.proto, 10001+) and bthread's ESTOP. A caller checks
 * `err.code`, never the message.
 *
 * One code is tsraft's own: ERAFTINTERNAL (30001), a broken invariant or an unexpected exception
 * inside tsraft. Its errno lies outside every range braft and brpc use (POSIX errnos, brpc's
 * 1001-2xxx, braft's 10001+, bthread's ESTOP -20), so no peer can mistake it for one of theirs;
 * its name avoids brpc's EINTERNAL (2001, a failed RPC handler). ESTATEMACHINE keeps braft's
 * meaning: the user's state machine (or a `done` closure) failed.
 */

/** braft's error names with their numeric errno. */
export const ErrorCodes = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EAGAIN: 11,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  EHOSTUNREACH: 113,
  ESTALE: 116,
  ECANCELED: 125,
  ESTOP: -20,
  ERAFTTIMEDOUT: 10001,
  ESTATEMACHINE: 10002,
  ECATCHUP: 10003,
  ELEADERREMOVED: 10004,
  ESETPEER: 10005,
  ENODESHUTDOWN: 10006,
  EHIGHERTERMREQUEST: 10007,
  EHIGHERTERMRESPONSE: 10008,
  EBADNODE: 10009,
  EVOTEFORCANDIDATE: 10010,
  ENEWLEADER: 10011,
  ELEADERCONFLICT: 10012,
  ETRANSFERLEADERSHIP: 10013,
  ELOGDELETED: 10014,
  ENOMOREUSERLOG: 10015,
  EREADONLY: 10016,
  /** tsraft's own: a bug inside tsraft (broken invariant, unexpected exception); the node is in ERROR. */
  ERAFTINTERNAL: 30001,
} as const;

/** One of braft's error names, e.g. `"EPERM"`. */
export type ErrorCode = keyof typeof ErrorCodes;

const codeByErrno = new Map<number, ErrorCode>(
  Object.entries(ErrorCodes).map(([name, errno]) => [errno, name as ErrorCode]),
);

/** The error name for a numeric errno (as found on the wire), or undefined if unknown. */
export function errorCodeOf(errno: number): ErrorCode | undefined {
  return codeByErrno.get(errno);
}

/**
 * Whether the operation an error rejects may still take effect (docs/errors.md):
 * - `"refused"`: it never entered the log (or, for a read, it changes nothing): it did not happen
 *   and never will, so retrying it is safe.
 * - `"unknown"`: it may have been committed, or may still be: a blind retry can apply it twice.
 */
export type Outcome = "refused" | "unknown";

/** Extra data an error carries so the caller can act on it. */
export interface RaftErrorDetails {
  /** The leader to redirect to, when this node knows it. */
  readonly leaderId?: string | undefined;
  readonly cause?: unknown;
  /** Whether the operation may still take effect; `"unknown"` when not given (the safe side). */
  readonly outcome?: Outcome | undefined;
}

const RAFT_ERROR_BRAND = Symbol.for("tsraft.RaftError");

/** The one error class tsraft throws and rejects with. */
export class RaftError extends Error {
  override readonly name = "RaftError";
  readonly code: ErrorCode;
  /** braft's numeric errno for `code`. */
  readonly errno: number;
  readonly leaderId: string | undefined;
  /**
   * `"refused"`: the operation did not take effect and never will (safe to retry); `"unknown"`:
   * it may have taken effect or may still (do not retry blindly). An error created without an
   * outcome says `"unknown"`, so a site that forgets to classify errs on the safe side.
   */
  readonly outcome: Outcome;

  constructor(code: ErrorCode, message: string, details: RaftErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.errno = ErrorCodes[code];
    this.leaderId = details.leaderId;
    this.outcome = details.outcome ?? "unknown";
    Object.defineProperty(this, RAFT_ERROR_BRAND, { value: true });
  }

  /**
   * A RaftError without a stack trace, for failures a hot path reports by the thousand and whose
   * stack says nothing (a call refused while its peer's channel waits to reconnect). Capturing
   * the stack was 5% of a survivor's CPU while thousands of groups elected after a process died
   * (the many-groups bench), their heartbeats to the dead process refused one by one.
   */
  static withoutStack(code: ErrorCode, message: string, details: RaftErrorDetails = {}): RaftError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new RaftError(code, message, details);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  /** This error with another outcome (a copy: errors may be shared by many callers). */
  withOutcome(outcome: Outcome): RaftError {
    if (outcome === this.outcome) return this;
    const copy = new RaftError(this.code, this.message, {
      leaderId: this.leaderId,
      cause: this.cause,
      outcome,
    });
    if (this.stack !== undefined) copy.stack = this.stack;
    return copy;
  }

  /** True for a RaftError, even one created by another copy of this package. */
  static is(value: unknown): value is RaftError {
    return typeof value === "object" && value !== null && RAFT_ERROR_BRAND in value;
  }
}

/**
 * An invariant that must hold. It stays on in production: a broken invariant means the node's
 * state can no longer be trusted, and the shell turns the thrown error into braft's ERROR state.
 * A message with values goes as a function, built only on failure: the core checks dozens of
 * invariants per input, and formatting each message up front cost more than the checks.
 */
export function invariant(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InvariantError(typeof message === "string" ? message : message());
}

/** Thrown by {@link invariant}. */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
}
