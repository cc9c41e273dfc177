/**
 * The version of the installed tsraft package, for `tsraft --version`. Read from the package's
 * own package.json, which sits three levels above this file both in a checkout
 * (`dist/src/cli/version.js`) and in an installed package (`node_modules/tsraft/dist/src/cli/`),
 * so the command never reports a version other than the code it runs.
 */
import { readFileSync } from "node:fs";

/** The `version` field of tsraft's package.json. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version?: unknown;
  };
  if (typeof manifest.version !== "string") throw new Error("tsraft's package.json has no version");
  return manifest.version;
}
