/**
 * Finding a group's leader by asking its peers (braft's get_leader over CliService), shared by
 * the route table and the CLI operations so both pick the leader by the same rule.
 */
import { RaftError } from "../core/errors.js";

/** Asks one peer who leads; resolves with the id it names ("" when it knows none). */
export type AskLeader = (peer: string) => Promise<string>;

/** Transport failures: the peer was not heard from, so its answer is no evidence either way. */
const TRANSPORT_CODES = new Set(["EHOSTUNREACH", "ERAFTTIMEDOUT", "ESHUTDOWN", "ECANCELED"]);

/**
 * The leader of `groupId` as `peers` see it, all asked at once (braft asks one after another and
 * takes the first answer; asking in parallel costs one round trip whatever is down). A peer
 * naming itself wins: it knows best. Otherwise the answer most peers give. When nobody names
 * one, the error carries every peer's answer, as braft's get_leader does.
 */
export async function findLeader(groupId: string, peers: readonly string[], ask: AskLeader): Promise<string> {
  const answers = await Promise.allSettled(peers.map((peer) => ask(peer)));
  const named = answers.map((a) => (a.status === "fulfilled" ? a.value : ""));
  const leader = named.find((l, i) => l !== "" && l === peers[i]) ?? mostCommon(named);
  if (leader !== undefined) return leader;
  throw combinedError(groupId, peers, answers);
}

function mostCommon(values: readonly string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== "") counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/**
 * braft's "[peer] text, [peer] text" summary; its code is the first refusal by a node (ENOENT,
 * EAGAIN...) or, when no node answered, the last transport error. Asking changes nothing, so the
 * error is "refused": asking again is always safe.
 */
function combinedError(
  groupId: string,
  peers: readonly string[],
  answers: readonly PromiseSettledResult<unknown>[],
): RaftError {
  const errors = answers.map((a) =>
    a.status === "rejected" && RaftError.is(a.reason) ? a.reason : new RaftError("EIO", "no leader id"),
  );
  const code = errors.find((e) => !TRANSPORT_CODES.has(e.code))?.code ?? errors.at(-1)?.code ?? "EINVAL";
  const detail = errors.map((e, i) => `[${peers[i] ?? "?"}] ${e.code} ${brief(e.message)}`).join(", ");
  return new RaftError(code, `cannot find the leader of group ${groupId}: ${detail}`, { outcome: "refused" });
}

/** A transport error's text without the channel's "service.method to endpoint: " prefix. */
export function brief(message: string): string {
  return message.replace(/^\S+ to \S+: /, "");
}
