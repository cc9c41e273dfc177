/**
 * Asks a running kv cluster to add this node, over its HTTP API: POST /members on any member
 * (fetch follows the 307 to the leader). Adding a peer is absolute (adding a present peer
 * succeeds at once), so every failure may be retried, whatever its outcome.
 */

/** How long a node keeps asking to join before it gives up. */
export const JOIN_DEADLINE_MS = 60_000;
/** The pause between attempts: another change may be running (EBUSY), or an election. */
const JOIN_RETRY_MS = 250;

/** Resolves once `peer` is a voter of the cluster that `memberUrl` (e.g. http://ip:port) belongs to. */
export async function joinCluster(
  memberUrl: string,
  peer: string,
  deadlineMs = JOIN_DEADLINE_MS,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${memberUrl}/members`, {
        method: "POST",
        body: JSON.stringify({ peer }),
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      const text = await response.text();
      if (response.ok) return;
      last = `${response.status} ${text.trim()}`;
      if (response.status < 500) break; // a bad request stays bad
    } catch (error) {
      last = String(error); // not reachable yet: try again
    }
    await new Promise((resolve) => setTimeout(resolve, JOIN_RETRY_MS));
  }
  throw new Error(`could not join through ${memberUrl}: ${last}`);
}
