/** The pure Raft core: no I/O, no clock, no randomness of its own. */
export * from "./config.js";
export * from "./configuration.js";
export * from "./errors.js";
export * from "./events.js";
export * from "./messages.js";
export * from "./progress.js";
export * from "./quorum.js";
export * from "./raft-log.js";
export {
  RaftCore,
  type ConfigurationView,
  type LogView,
  type Proposal,
  type ProposalResult,
  type ProgressView,
  type ResponseInput,
} from "./raft.js";
export * from "./types.js";
export { handleVoteRequest, handleVoteResponse, tallyVotes, type VoteRound } from "./election.js";
