/**
 * Error codes on the wire and their mapping to RaftError.
 *
 * A failed call's RpcResponseMeta carries an errno: braft's (POSIX or 10001+) when a node
 * refused, or one of brpc's own (1001+) when the framework did. Every failure reaches the caller
 * as a RaftError; brpc's codes, which RaftError does not name, map to the nearest braft code and
 * keep the original number in the message ("[brpc ENOSERVICE 1001] ...").
 */
import { RaftError, errorCodeOf, type ErrorCode } from "../core/errors.js";

/** brpc's errno.proto codes that tsraft sends or understands. */
export const BrpcErrno = {
  ENOSERVICE: 1001,
  ENOMETHOD: 1002,
  EREQUEST: 1003,
  ERPCAUTH: 1004,
  ERPCTIMEDOUT: 1008,
  EFAILEDSOCKET: 1009,
  EOVERCROWDED: 1011,
  EEOF: 1014,
  ESSL: 1016,
  EINTERNAL: 2001,
  ERESPONSE: 2002,
  ELOGOFF: 2003,
  ELIMIT: 2004,
  ECLOSE: 2005,
} as const;

const brpcNames = new Map<number, string>(Object.entries(BrpcErrno).map(([name, code]) => [code, name]));

/** What a brpc code means to a tsraft caller. */
const brpcToRaft: Readonly<Record<number, ErrorCode>> = {
  [BrpcErrno.ENOSERVICE]: "ENOSYS",
  [BrpcErrno.ENOMETHOD]: "ENOSYS",
  [BrpcErrno.EREQUEST]: "EINVAL",
  [BrpcErrno.ERPCAUTH]: "EACCES",
  [BrpcErrno.ERPCTIMEDOUT]: "ERAFTTIMEDOUT",
  [BrpcErrno.EFAILEDSOCKET]: "EHOSTUNREACH",
  [BrpcErrno.EOVERCROWDED]: "EBUSY",
  [BrpcErrno.EEOF]: "EHOSTUNREACH",
  [BrpcErrno.ESSL]: "EHOSTUNREACH",
  [BrpcErrno.ELOGOFF]: "ESHUTDOWN",
  [BrpcErrno.ELIMIT]: "EBUSY",
  [BrpcErrno.ECLOSE]: "EHOSTUNREACH",
};

/**
 * brpc codes a server sends without running the method's handler (unknown service or method,
 * unparsable request, too many calls in flight, stopping): the call did nothing.
 */
const refusedBeforeHandler = new Set<number>([
  BrpcErrno.ENOSERVICE,
  BrpcErrno.ENOMETHOD,
  BrpcErrno.EREQUEST,
  BrpcErrno.ERPCAUTH,
  BrpcErrno.EOVERCROWDED,
  BrpcErrno.ELOGOFF,
  BrpcErrno.ELIMIT,
]);

/**
 * RpcMeta.user_fields keys that carry what a RaftError says beyond its code and text: the
 * leader to redirect to, and "refused" when the operation did not take effect. braft ignores
 * them; a tsraft client reads them back (see {@link errorFromWire}).
 */
export const ErrorUserFields = { LEADER_ID: "tsraft-leader-id", OUTCOME: "tsraft-outcome" } as const;

/**
 * The RaftError for an error code and text received in a response meta. A code the handler
 * sent (braft's or POSIX) says nothing about whether the call took effect, so the outcome is
 * "unknown" unless tsraft's user_fields say "refused"; they also carry the leader's id.
 */
export function errorFromWire(
  errno: number,
  text: string,
  userFields?: ReadonlyMap<string, string>,
): RaftError {
  const known = errorCodeOf(errno);
  if (known !== undefined) {
    const leaderId = userFields?.get(ErrorUserFields.LEADER_ID);
    const outcome = userFields?.get(ErrorUserFields.OUTCOME) === "refused" ? "refused" : "unknown";
    return new RaftError(known, text, { outcome, ...(leaderId === undefined ? {} : { leaderId }) });
  }
  const brpcName = brpcNames.get(errno);
  const code = brpcToRaft[errno] ?? "EIO";
  const outcome = refusedBeforeHandler.has(errno) ? "refused" : "unknown";
  const prefix = `[${brpcName === undefined ? "errno" : `brpc ${brpcName}`} ${errno}]`;
  return new RaftError(code, `${prefix} ${text}`, { outcome });
}

/**
 * The error code and text to send for a handler failure (brpc's SetFailed), and the user_fields
 * that carry a RaftError's leader and a "refused" outcome (nothing for anything else).
 */
export function errorToWire(err: unknown): {
  code: number;
  text: string;
  userFields?: ReadonlyMap<string, string> | undefined;
} {
  if (RaftError.is(err)) return { code: err.errno, text: err.message, userFields: errorUserFields(err) };
  const text = err instanceof Error ? err.message : String(err);
  return { code: BrpcErrno.EINTERNAL, text: text === "" ? "internal error" : text };
}

/** A RaftError for a call that failed before or without a response. */
export function transportError(code: ErrorCode, message: string, cause?: unknown): RaftError {
  return new RaftError(code, message, cause === undefined ? {} : { cause });
}

function errorUserFields(err: RaftError): ReadonlyMap<string, string> | undefined {
  if (err.leaderId === undefined && err.outcome !== "refused") return undefined;
  const fields = new Map<string, string>();
  if (err.leaderId !== undefined) fields.set(ErrorUserFields.LEADER_ID, err.leaderId);
  if (err.outcome === "refused") fields.set(ErrorUserFields.OUTCOME, "refused");
  return fields;
}
