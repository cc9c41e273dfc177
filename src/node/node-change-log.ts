/** What a running node logs as it changes (kept out of running-node.ts). */
import { RaftError } from "../core/errors.js";
import type { Send } from "../core/events.js";
import type { RaftCore } from "../core/raft.js";
import type { ConfigurationData, Role } from "../core/types.js";
import type { Logger } from "../env/logger.js";
import type { PreparedNode } from "./node-init.js";

/** A configuration as one comparable string (for logging changes only). */
function confText(conf: ConfigurationData): string {
  return `${conf.peers.join(",")}|${conf.oldPeers?.join(",") ?? ""}|${conf.learners?.join(",") ?? ""}`;
}

/** The node's log lines about what changed: each term, configuration and lost election once. */
export class NodeChangeLog {
  /** What was last logged. */
  private readonly logged: { term: number; confIndex: number; conf: string; role: Role | undefined };

  constructor(
    private readonly logger: Logger,
    private readonly parts: Pick<PreparedNode, "core" | "logManager">,
  ) {
    const core = parts.core;
    const conf = core.confs.last();
    this.logged = { term: core.term, confIndex: conf.id.index, conf: confText(conf.conf), role: core.role };
  }

  /** One line with what the node restored; later term and configuration changes log as they happen. */
  started(): void {
    const core = this.parts.core;
    const conf = core.confs.last();
    this.logger.info("node started", {
      term: core.term,
      lastIndex: core.log.lastLogId().index,
      snapshotIndex: this.parts.logManager.lastSnapshot.index,
      peers: conf.conf.peers.join(","),
      learners: conf.conf.learners?.join(","),
    });
  }

  /** Logs a new term or configuration: two comparisons per drive, a line only when one changed. */
  noticeChanges(core: RaftCore): void {
    const logged = this.logged;
    if (core.term !== logged.term) {
      this.logger.info("term changed", { from: logged.term, to: core.term, role: core.role });
      logged.term = core.term;
    }
    const conf = core.confs.last();
    if (conf.id.index !== logged.confIndex) {
      // A new leader re-appends the configuration in force: only a different one is news.
      logged.confIndex = conf.id.index;
      const { peers, oldPeers, learners } = conf.conf;
      const text = confText(conf.conf);
      if (text === logged.conf) return;
      logged.conf = text;
      this.logger.info("configuration changed", {
        index: conf.id.index,
        term: conf.id.term,
        peers: peers.join(","),
        oldPeers: oldPeers?.join(","),
        learners: learners?.join(","),
      });
    }
  }

  /** An election that ends with this node following (not leading) was lost. */
  noticeRole(role: Role, term: number): void {
    const previous = this.logged.role;
    this.logged.role = role;
    if ((previous === "candidate" || previous === "preCandidate") && role === "follower") {
      this.logger.info("election lost", { term, as: previous });
    }
  }

  /** Debug only (the caller checks the level): one line per failed RPC to a peer. */
  rpcFailed(send: Send, error: unknown): void {
    this.logger.debug("rpc to peer failed", {
      to: send.message.to,
      kind: send.message.kind,
      heartbeat: send.heartbeat,
      error: RaftError.is(error) ? `${error.code}: ${error.message}` : String(error),
    });
  }
}
