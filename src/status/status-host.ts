/** The narrow view of a server that the status pages need (RaftServer provides it). */
import type { HttpHandler } from "../rpc/http-front.js";
import type { NodeAdmin } from "../node/ports.js";

export interface StatusHost {
  /** `ip:port` the server listens on; "" before it started. */
  readonly address: string;
  /** The nodes hosted here (all groups, or one), ordered by group then peer. */
  nodes(groupId?: string): NodeAdmin[];
  /** Serves `path` and everything under it. */
  addHttpRoute(path: string, handler: HttpHandler): void;
}
