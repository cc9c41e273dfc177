/**
 * Who may use a RaftServer's operator surface (CliService's changes, `/flags` changes): every
 * peer, loopback peers only, or nobody. braft's `disable_cli` is `none` for one node; here it is
 * also a per-server setting, and `loopback` lets an operator on the machine act while the port
 * stays open to the cluster's peers.
 */
import { RaftError } from "../core/errors.js";
import { CliService } from "./gen/braft/cli_pb.js";
import { LearnerService } from "./gen/tsraft/cli_pb.js";
import type { CallContext, RawMethodHandler, ServiceRegistry } from "./service-registry.js";

/** `any`: every peer; `loopback`: peers on 127.0.0.0/8 or ::1 only; `none`: nobody. */
export type OperatorAccess = "any" | "loopback" | "none";

/** Whether `ip` (as a socket reports it: IPv4, IPv6, or IPv4-mapped IPv6) is a loopback address. */
export function isLoopbackAddress(ip: string): boolean {
  const v4 = ip.startsWith("::ffff:") ? ip.slice("::ffff:".length) : ip;
  return v4.startsWith("127.") || ip === "::1";
}

/** The IP of an `ip:port` as CallContext.remoteAddress gives it. */
function ipOf(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(":");
  return (colon < 0 ? remoteAddress : remoteAddress.slice(0, colon)).replace(/^\[|\]$/g, "");
}

/**
 * Serves on `to` the CliService and LearnerService methods registered on `from`, refusing calls
 * from peers `access` excludes with EACCES, as braft's disable_cli does. get_leader is always
 * answered: braft does not check it, and clients need it to find a group's leader.
 */
export function addCliServicesLimited(
  from: ServiceRegistry,
  to: ServiceRegistry,
  access: OperatorAccess,
): void {
  for (const service of [CliService, LearnerService]) {
    for (const method of service.methods) {
      const found = from.lookup(service.typeName, method.name);
      if (!("handler" in found)) continue;
      const handler: RawMethodHandler = found.handler;
      const what = `${service.typeName}.${method.name}`;
      const open = access === "any" || method.name === "get_leader";
      to.addMethod(
        service.typeName,
        method.name,
        open
          ? handler
          : (message, ctx: CallContext) => {
              checkCliAccess(access, ctx.remoteAddress, what);
              return handler(message, ctx);
            },
      );
    }
  }
}

function checkCliAccess(access: OperatorAccess, remoteAddress: string, what: string): void {
  if (access === "none") {
    throw new RaftError(
      "EACCES",
      `CliService is disabled on this server (RaftServerOptions.cliAccess): ${what}`,
    );
  }
  if (access === "loopback" && !isLoopbackAddress(ipOf(remoteAddress))) {
    throw new RaftError(
      "EACCES",
      `CliService accepts ${what} from loopback only on this server (RaftServerOptions.cliAccess), not from ${remoteAddress}`,
    );
  }
}
