/**
 * `tsraft status`: the node's status page over plain HTTP on its RaftServer port
 * (`/raft_stat`, or `/raft_stat/<group>`), printed as served.
 */
import { RaftError } from "../core/errors.js";
import { endpointOf } from "./args.js";

/** Fetches the page; any failure is a RaftError (EHOSTUNREACH, ERAFTTIMEDOUT, or the HTTP status). */
export async function fetchStatus(
  peer: string,
  group: string | undefined,
  timeoutMs: number,
): Promise<string> {
  const path = group === undefined ? "/raft_stat" : `/raft_stat/${encodeURIComponent(group)}`;
  const url = `http://${endpointOf(peer)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, timeoutMs > 0 ? { signal: AbortSignal.timeout(timeoutMs) } : {});
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new RaftError(timedOut ? "ERAFTTIMEDOUT" : "EHOSTUNREACH", `GET ${url}: ${reason}`);
  }
  const body = (await response.text()).replace(/\n+$/, "");
  if (response.status === 404) throw new RaftError("ENOENT", `GET ${url}: HTTP 404 (no such page or group)`);
  if (!response.ok) throw new RaftError("EIO", `GET ${url}: HTTP ${response.status}`);
  return body;
}
