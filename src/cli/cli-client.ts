/**
 * The tsraft command's side of braft's CliService lives in the client library
 * (src/client/cli-client.ts), where programs use it too; this module keeps the command's name
 * for it.
 */
export { CliClient, type CliClientOptions } from "../client/cli-client.js";
export { brief } from "../client/leader-lookup.js";
