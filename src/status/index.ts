/**
 * The status pages on a RaftServer's port: `/raft_stat` (braft's), `/flags` (brpc's) and the
 * dashboard at `/`. They render NodeStatus and read nothing else of the server.
 */
import { dashboardHandler } from "./dashboard.js";
import { flagsHandler } from "./flags-page.js";
import { raftStatHandler } from "./raft-stat.js";
import type { StatusHost } from "./status-host.js";

export type { StatusHost } from "./status-host.js";
export type { RaftStatJson } from "./raft-stat.js";
export type { FlagJson } from "./flags-page.js";

/** Serves the status pages of `host` on its HTTP routes. */
export function installStatusPages(host: StatusHost): void {
  host.addHttpRoute("/raft_stat", raftStatHandler(host));
  host.addHttpRoute("/flags", flagsHandler());
  host.addHttpRoute("/", dashboardHandler);
}
