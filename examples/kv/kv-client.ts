/**
 * A client of the kv example's HTTP API with plain fetch: it follows redirects to the leader,
 * tries the next node when one is down, and retries every failure under one Idempotency-Key, so
 * a write is applied at most once however many attempts it takes.
 */
import { randomUUID } from "node:crypto";

/** What a successful write answered. */
export interface KvPutAnswer {
  readonly index: number;
  readonly previous: string | null;
  /** True when an earlier attempt had been applied and this one only fetched its answer. */
  readonly replayed: boolean;
}

/** A request the service refused as bad: retrying it cannot help. */
export class KvRequestError extends Error {}

/** The pause before trying again when the node gave no Retry-After. */
const RETRY_PAUSE_MS = 100;

// #region put-with-retry
/**
 * PUTs `key` = `value` through any of `urls`, retrying until `deadlineMs` passes. One request id
 * for every attempt: an attempt that timed out or answered 504 may have been applied, and the
 * state machine answers a repeat of it without applying it again.
 */
export async function putWithRetry(
  urls: readonly string[],
  key: string,
  value: string,
  deadlineMs = 10_000,
): Promise<KvPutAnswer> {
  const requestId = randomUUID();
  const deadline = Date.now() + deadlineMs;
  let lastError = "no attempt";
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const url = urls[attempt % urls.length] ?? "";
    try {
      const response = await fetch(`${url}/kv/${encodeURIComponent(key)}`, {
        method: "PUT",
        body: value,
        headers: { "idempotency-key": requestId },
        redirect: "follow", // a follower answers 307 to the leader
        signal: AbortSignal.timeout(Math.max(1, Math.min(2000, deadline - Date.now()))),
      });
      const body = (await response.json()) as { index: number; previous: string | null; message?: string };
      if (response.ok) {
        return { ...body, replayed: response.headers.get("idempotent-replayed") === "true" };
      }
      if (response.status < 500)
        throw new KvRequestError(`PUT ${key}: ${response.status} ${body.message ?? ""}`);
      lastError = `${response.status} ${body.message ?? ""}`; // 503: nothing happened; 504: maybe
      const pauseMs = Number(response.headers.get("retry-after") ?? 0) * 1000 || RETRY_PAUSE_MS;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(pauseMs, Math.max(0, deadline - Date.now()))),
      );
    } catch (error) {
      if (error instanceof KvRequestError) throw error;
      lastError = String(error); // down, or a redirect to a leader that just died: next node
    }
  }
  throw new Error(`PUT ${key} did not finish in ${deadlineMs} ms (it may have been applied): ${lastError}`);
}
// #endregion put-with-retry
