/** braft's butil::Status and Closure. */
import { ErrorCodes, RaftError, errorCodeOf, type ErrorCode } from "../core/errors.js";

/** The outcome of an operation: OK, or an error code and text (braft's butil::Status). */
export class Status {
  constructor(
    /** braft's numeric error code; 0 when ok. */
    readonly errorCode = 0,
    readonly errorText = "",
  ) {}

  static OK(): Status {
    return OK_STATUS;
  }

  static error(code: ErrorCode, text: string): Status {
    return new Status(ErrorCodes[code], text);
  }

  static fromError(error: unknown): Status {
    if (RaftError.is(error)) return new Status(error.errno, error.message);
    return new Status(ErrorCodes.EIO, error instanceof Error ? error.message : String(error));
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
    return new RaftError(this.code ?? "EIO", this.errorText, { leaderId });
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
