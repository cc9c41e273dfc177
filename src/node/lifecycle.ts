/** A node's lifecycle and what it refuses in each stage (shared by RaftNode and RunningNode). */
import { RaftError } from "../core/errors.js";

/** braft's default snapshot_interval_s. */
export const DEFAULT_SNAPSHOT_INTERVAL_S = 3600;

/**
 * Where a node is: "uninitialized" until init, "initializing" during it, "running" from a
 * successful init on, "shutting" then "shutdown" once shutdown was asked (or init failed).
 * braft's ERROR state is not a stage: a running node holds its fatal error beside it.
 */
export type Lifecycle = "uninitialized" | "initializing" | "running" | "shutting" | "shutdown";

/** Why a node in `lifecycle` takes no operation now; undefined when it does. */
export function refusalOf(lifecycle: Lifecycle, fatalError: RaftError | undefined): RaftError | undefined {
  const refused = { outcome: "refused" } as const;
  if (lifecycle === "shutting" || lifecycle === "shutdown")
    return new RaftError("ESHUTDOWN", "node is shut down", refused);
  if (lifecycle !== "running") return new RaftError("EPERM", "node is not initialized", refused);
  if (fatalError !== undefined)
    return new RaftError("EPERM", `node is in the ERROR state: ${fatalError.message}`, refused);
  return undefined;
}
