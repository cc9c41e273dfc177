/**
 * The test-only admin service of tsraft's atomic server (`--admin`, `tsraft.test.AtomicAdmin`):
 * a node's id -> value map and braft's triggered vote, over one short-lived channel per call.
 */
import { Channel } from "../../src/rpc/channel.js";

/** What `status` answers (the fields the interop suite reads). */
export interface AtomicAdminStatus {
  readonly state: string;
  readonly committedIndex: number;
  readonly appliedIndex: number;
  /** `[id, value]` pairs sorted by id, as decimal strings. */
  readonly values: readonly (readonly [string, string])[];
}

/** Calls `method` of the admin service on 127.0.0.1:`port`; rejects on `{ ok: false }`. */
export async function atomicAdmin(
  port: number,
  method: string,
  body = "",
  timeoutMs = 3000,
): Promise<unknown> {
  const channel = new Channel(`127.0.0.1:${port}`, { reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 100 });
  try {
    const result = await channel.call("tsraft.test.AtomicAdmin", method, new TextEncoder().encode(body), {
      timeoutMs,
    });
    const answer = JSON.parse(new TextDecoder().decode(result.message)) as { ok?: boolean; message?: string };
    if (answer.ok === false) throw new Error(`admin ${method} on ${port}: ${answer.message}`);
    return answer;
  } finally {
    channel.close();
  }
}

/** The node's status with its whole id -> value map. */
export async function atomicStatus(port: number): Promise<AtomicAdminStatus> {
  return (await atomicAdmin(port, "status")) as AtomicAdminStatus;
}

/** braft's `vote(election_timeout_ms)` on the node. */
export async function triggerVote(port: number, electionTimeoutMs: number): Promise<void> {
  await atomicAdmin(port, "vote", String(electionTimeoutMs));
}
