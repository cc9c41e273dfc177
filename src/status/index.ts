/**
 * The status pages on a RaftServer's port: `/raft_stat` (braft's), `/flags` (brpc's) and the
 * dashboard at `/`. They render NodeStatus and read nothing else of the server.
 */
import { dashboardHandler } from "./dashboard.js";
import { flagsHandler } from "./flags-page.js";
import type { OperatorAccess } from "../rpc/operator-access.js";
import { raftStatHandler } from "./raft-stat.js";
import type { StatusHost } from "./status-host.js";

export type { StatusHost } from "./status-host.js";
export type { RaftStatJson } from "./raft-stat.js";
export type { FlagJson } from "./flags-page.js";

/** Serves the status pages of `host` on its HTTP routes; `flagChanges` says who may change flags. */
export function installStatusPages(host: StatusHost, pages: { flagChanges?: OperatorAccess } = {}): void {
  host.addHttpRoute("/raft_stat", raftStatHandler(host));
  host.addHttpRoute("/flags", flagsHandler({ changes: pages.flagChanges }));
  host.addHttpRoute("/", dashboardHandler);
}
