/**
 * The README's two programs as a user of the tarball gets them: copied from the README's text into
 * a folder of the user's project, compiled there with tsc against the installed package, and
 * started as the README's shell block starts them (`node node.js --port=P --peers=...`).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePorts } from "../../src/testing/free-ports.js";
import { Proc } from "../examples/kv-processes.js";

/** The fenced blocks of `markdown` in `language`, as readme.test.ts reads them (importing it would run its tests here). */
function blocks(markdown: string, language: string): string[] {
  const fence = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "gm");
  return [...markdown.matchAll(fence)].map((match) => match[1] ?? "");
}

/**
 * Writes into `folder` what the README tells a user to save: its TypeScript blocks as
 * `kv-store.ts` and `node.ts` (the names its imports use) and its JSON block as `tsconfig.json`.
 */
export function copyReadmePrograms(readme: string, folder: string): void {
  const [kvStore, node, ...more] = blocks(readme, "ts");
  const tsconfigs = blocks(readme, "json");
  if (kvStore === undefined || node === undefined || more.length > 0 || tsconfigs.length !== 1) {
    throw new Error(
      "the README should show two TypeScript blocks (state machine, node) and one tsconfig.json",
    );
  }
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, "kv-store.ts"), kvStore);
  writeFileSync(join(folder, "node.ts"), node);
  writeFileSync(join(folder, "tsconfig.json"), tsconfigs[0] ?? "");
}

/** What one round of three copies printed and how they exited. */
export interface Round {
  /** Each copy's `leader: ...` or `follower: ...` line, in port order. */
  readonly roles: string[];
  /** Each copy's `read: ...` JSON, parsed, in port order. */
  readonly reads: [string, string][][];
  /** Each copy's exit code (or signal) after SIGTERM. */
  readonly codes: (number | string)[];
  readonly output: string;
}

/** Thrown when a copy could not listen on its port (taken since freePorts found it): pick others. */
export class PortTaken extends Error {}

/** Starts three copies of `node.js` in `folder` on `ports`, waits for every read, then SIGTERMs them. */
export async function runRound(folder: string, ports: readonly number[]): Promise<Round> {
  const peers = ports.map((port) => `127.0.0.1:${port}:0`).join(",");
  const copies = ports.map(
    (port) =>
      new Proc(
        spawn(process.execPath, ["node.js", `--port=${port}`, `--peers=${peers}`], {
          cwd: folder,
          stdio: ["ignore", "pipe", "pipe"],
        }),
      ),
  );
  const output = (): string => copies.map((copy) => copy.lines.join("\n")).join("\n---\n");
  let reads: string[];
  try {
    reads = await Promise.all(copies.map((copy) => copy.waitForLine(/^read: (.*)$/, 30_000)));
  } catch (error) {
    await Promise.all(copies.map((copy) => copy.stop("SIGKILL")));
    if (/EADDRINUSE/.test(output())) throw new PortTaken(output());
    throw error;
  }
  const codes = await Promise.all(copies.map((copy) => copy.stop("SIGTERM")));
  return {
    roles: copies.map((copy) => copy.lines.find((line) => /^(leader|follower):/.test(line)) ?? ""),
    reads: reads.map((read) => JSON.parse(read) as [string, string][]),
    codes,
    output: output(),
  };
}

/**
 * Runs `scenario` with three free ports; when a port was taken between finding it and a copy
 * listening on it, again with other ports, up to three times. The ports cannot be held for the
 * copies (each listens itself), so a lost race is retried rather than failing the test. Every
 * attempt's nodes keep their data apart (`./data/<port>`, the README's default).
 */
export async function withFreshPorts<T>(scenario: (ports: readonly number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scenario(await freePorts(3));
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt === 3) throw error;
    }
  }
}
