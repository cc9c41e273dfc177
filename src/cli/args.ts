/**
 * Flag values of the tsraft command, checked before anything is sent: peer ids, configurations
 * and numbers. A bad value is a UsageError (exit code 2), reported on one line.
 */
import { InvalidArgumentError } from "commander";
import { formatPeerId, parsePeerId } from "../util/peer-text.js";

/** A flag value the command refuses (not an RPC failure). */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** `ip:port[:idx[:role]]` in its canonical `ip:port:idx` form (commander argParser). */
export function peerArg(text: string): string {
  const peer = parsePeerId(text.trim());
  if (peer === undefined) throw new InvalidArgumentError(`"${text}" is not a peer id (ip:port[:idx])`);
  return formatPeerId(peer);
}

/** A comma-separated list of peer ids, braft's Configuration text; never empty. */
export function confArg(text: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new InvalidArgumentError("the configuration is empty");
  return [...new Set(items.map(peerArg))];
}

/** An integer, negative allowed (braft's -1 = no timeout). */
export function intArg(text: string): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`"${text}" is not an integer`);
  }
  return value;
}

/** The `ip:port` of a peer id or endpoint. */
export function endpointOf(peer: string): string {
  const parsed = parsePeerId(peer);
  if (parsed === undefined) throw new UsageError(`"${peer}" is not a peer id (ip:port[:idx])`);
  return `${parsed.host}:${parsed.port}`;
}
