/**
 * braft's Closure and the butil::Status it runs with: the outcome of one operation. (A node's
 * status, the page data, is NodeStatus in node-status.ts.)
 */
import { ErrorCodes, RaftError, errorCodeOf, type ErrorCode, type Outcome } from "../core/errors.js";

/**
 * The outcome of an operation: OK, or an error code and text (braft's butil::Status). Beyond
 * braft, a failed Status says whether the operation may still take effect (`outcome`, as on
 * RaftError): a closure given to `applyTask` learns from it whether a retry is safe.
 */
export class Status {
  constructor(
    /** braft's numeric error code; 0 when ok. */
    readonly errorCode = 0,
    readonly errorText = "",
    /**
     * Failed only: `"refused"` (did not happen, never will: safe to retry) or `"unknown"` (may
     * still take effect). Undefined reads as `"unknown"`.
     */
    readonly outcome: Outcome | undefined = undefined,
  ) {}

  static OK(): Status {
    return OK_STATUS;
  }

  static error(code: ErrorCode, text: string, outcome?: Outcome): Status {
    return new Status(ErrorCodes[code], text, outcome);
  }

  static fromError(error: unknown): Status {
    if (RaftError.is(error)) return new Status(error.errno, error.message, error.outcome);
    return new Status(ErrorCodes.EIO, error instanceof Error ? error.message : String(error));
  }

  /** This status with another outcome (a copy; OK stays OK). */
  withOutcome(outcome: Outcome): Status {
    if (this.ok() || this.outcome === outcome) return this;
    return new Status(this.errorCode, this.errorText, outcome);
  }

  ok(): boolean {
    return this.errorCode === 0;
  }

  /** The error name, e.g. "EPERM"; undefined when ok or unknown. */
  get code(): ErrorCode | undefined {
    return errorCodeOf(this.errorCode);
  }

  /** The RaftError this status describes; call only when not ok. */
  toError(leaderId?: string): RaftError {
    return new RaftError(this.code ?? "EIO", this.errorText, { leaderId, outcome: this.outcome });
  }

  toString(): string {
    return this.ok() ? "OK" : `${this.code ?? this.errorCode}: ${this.errorText}`;
  }
}

const OK_STATUS = new Status();

/** A callback run exactly once with the outcome of an operation (braft's `done`). */
export interface Closure {
  run(status: Status): void;
}

/** The closure `onApply` sees for an entry proposed through `apply()`: it can carry a result back. */
export interface ApplyClosure extends Closure {
  /** Sets the value `apply()` resolves with (as `result`). */
  setResult?(value: unknown): void;
}
