/**
 * The tsraft command line (commander): braft_cli's commands and flags (`--group=G --conf=...`),
 * plus get_leader, transfer_leader, the learner commands and status.
 */
import { Command, Option } from "commander";
import { confArg, intArg, peerArg } from "./args.js";
import * as op from "./operations.js";
import type { Operation } from "./operations.js";
import { packageVersion } from "./version.js";

type FlagName = "group" | "conf" | "peer" | "leader" | "new_peers" | "learners";

const FLAGS: Readonly<Record<FlagName, () => Option>> = {
  group: () => new Option("--group <id>", "id of the raft group"),
  conf: () => new Option("--conf <conf>", "current configuration (ip:port:idx,...)").argParser(confArg),
  peer: () => new Option("--peer <peer>", "id of the operating peer (ip:port[:idx])").argParser(peerArg),
  leader: () =>
    new Option("--leader <peer>", "send to this peer as the leader instead of looking it up").argParser(
      peerArg,
    ),
  new_peers: () =>
    new Option("--new_peers <conf>", "peers the group is going to consist of").argParser(confArg),
  learners: () => new Option("--learners <peers>", "learner ids (ip:port:idx,...)").argParser(confArg),
};

interface Spec {
  readonly name: string;
  readonly summary: string;
  /** Flags; a trailing "!" makes one required. */
  readonly flags: readonly `${FlagName}${"" | "!"}`[];
  readonly run: Operation;
}

const LEADER_LOOKUP = ["group!", "conf", "leader"] as const;

/**
 * `--timeout_ms` when not given. braft_cli waits forever (-1), so a peer that accepts the
 * connection and never answers hangs it; 10 s covers a membership change of a caught-up peer, a
 * transfer and a snapshot of moderate state, and a slower operation (adding a peer that must first
 * install a large snapshot) runs with `--timeout_ms=-1` or a larger bound.
 */
export const DEFAULT_TIMEOUT_MS = 10_000;

const COMMANDS: readonly Spec[] = [
  {
    name: "get_leader",
    summary: "print the leader of the group",
    flags: ["group!", "conf!"],
    run: op.getLeader,
  },
  {
    name: "add_peer",
    summary: "add --peer to the group",
    flags: [...LEADER_LOOKUP, "peer!"],
    run: op.addPeer,
  },
  {
    name: "remove_peer",
    summary: "remove --peer from the group",
    flags: [...LEADER_LOOKUP, "peer!"],
    run: op.removePeer,
  },
  {
    name: "change_peers",
    summary: "change the group's peers to --new_peers",
    flags: [...LEADER_LOOKUP, "new_peers!"],
    run: op.changePeers,
  },
  {
    name: "reset_peer",
    summary: "UNSAFE: force --peer's configuration to --new_peers (lost majority only)",
    flags: ["group!", "peer!", "new_peers!"],
    run: op.resetPeer,
  },
  {
    name: "snapshot",
    summary: "make --peer take a snapshot now",
    flags: ["group!", "peer!"],
    run: op.snapshot,
  },
  {
    name: "transfer_leader",
    summary: "hand leadership to --peer (default: the most up-to-date follower)",
    flags: [...LEADER_LOOKUP, "peer"],
    run: op.transferLeader,
  },
  {
    name: "add_learners",
    summary: "add --learners (tsraft extension)",
    flags: [...LEADER_LOOKUP, "learners!"],
    run: op.addLearners,
  },
  {
    name: "remove_learners",
    summary: "remove --learners (tsraft extension)",
    flags: [...LEADER_LOOKUP, "learners!"],
    run: op.removeLearners,
  },
  {
    name: "reset_learners",
    summary: "make --learners the group's only learners (tsraft extension)",
    flags: [...LEADER_LOOKUP, "learners!"],
    run: op.resetLearners,
  },
  {
    name: "status",
    summary: "print the node's /raft_stat page (HTTP)",
    flags: ["peer!", "group"],
    run: op.status,
  },
];

/** What running a command resolves to: its operation and the parsed flags. */
export interface Invocation {
  readonly command: string;
  readonly run: Operation;
  readonly flags: op.Flags;
}

/**
 * The program; `onRun` gets the chosen command once its flags parsed. Commander's own errors
 * (unknown command, missing or bad flag) go to `outputError` and are thrown as CommanderError,
 * by every subcommand too (settings given before `command()` are inherited).
 */
export function buildProgram(
  onRun: (invocation: Invocation) => Promise<void>,
  outputError: (text: string, write: (text: string) => void) => void,
): Command {
  const program = new Command("tsraft")
    .description("Operate tsraft (and braft) replication groups over braft's CliService")
    .version(packageVersion(), "-v, --version", "print the tsraft version")
    .exitOverride()
    .configureOutput({ outputError })
    .showSuggestionAfterError(false)
    .allowExcessArguments(false);
  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.summary);
    for (const flag of spec.flags) {
      const option = FLAGS[flag.replace("!", "") as FlagName]();
      command.addOption(flag.endsWith("!") ? option.makeOptionMandatory() : option);
    }
    command
      .addOption(
        new Option("--timeout_ms <ms>", "timeout of the operation, <= 0: wait forever")
          .argParser(intArg)
          .default(DEFAULT_TIMEOUT_MS),
      )
      .addOption(
        new Option("--max_retry <n>", "retries of a call that cannot connect").argParser(intArg).default(3),
      )
      .action((flags: op.Flags) => onRun({ command: spec.name, run: spec.run, flags }));
  }
  return program;
}
