/** The connections a request to a peer may travel on (see RpcLane). */

/**
 * Which connection a request to a peer travels on. Appends that carry entries go on a connection
 * of their own ("bulk"); heartbeats, votes and every other small call on another ("control").
 * On one connection a heartbeat would wait behind every byte queued before it, and an entry of
 * tens of MiB on a slow link outlasts an election timeout: followers would stop hearing their
 * leader while it is busy replicating (braft's replicator likewise sends heartbeats independently
 * of its appends). Raft tolerates the reordering between the two.
 */
export type RpcLane = "control" | "bulk";

/** The lane of an AppendEntries: "bulk" when it carries entries, "control" for a heartbeat. */
export function laneOfAppend(request: { readonly entries: readonly unknown[] }): RpcLane {
  return request.entries.length > 0 ? "bulk" : "control";
}
