/**
 * The README's code runs as written: its TypeScript blocks are examples/minimal/kv-store.ts and
 * examples/minimal/node.ts verbatim (the package name standing for the repository's own import
 * path), and three copies of the node program, started in one folder with only their port as
 * the difference, elect a leader, write through it, read linearizably and stop cleanly. And every
 * TypeScript snippet of docs/guide.md is a region of a compiled, tested file.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { spawn } from "node:child_process";
import { freePorts } from "../../src/testing/free-ports.js";
import { Proc } from "./kv-processes.js";

const README = readFileSync(join(process.cwd(), "README.md"), "utf8");
const NODE_PROGRAM = join(process.cwd(), "dist", "examples", "minimal", "node.js");

/** The fenced blocks of `markdown` in `language`, without their fences. */
export function codeBlocks(markdown: string, language: string): string[] {
  const fence = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "gm");
  return [...markdown.matchAll(fence)].map((match) => match[1] ?? "");
}

/** Source as the docs show it: the package's names for the repository's own paths. */
function published(source: string): string {
  return source
    .replaceAll('"../../src/index.js"', '"tsraft"')
    .replaceAll('"../../src/testing/index.js"', '"tsraft/testing"');
}

function asPublished(path: string): string {
  return published(readFileSync(join(process.cwd(), path), "utf8"));
}

/** The lines between `// #region name` and `// #endregion name` of a file, without their indentation. */
export function region(path: string, name: string): string {
  const lines = readFileSync(join(process.cwd(), path), "utf8").split("\n");
  const start = lines.findIndex((line) => line.trim() === `// #region ${name}`);
  const end = lines.findIndex((line, i) => i > start && line.trim() === `// #endregion ${name}`);
  if (start < 0 || end < 0) throw new Error(`${path} has no region ${name}`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(
    ...body.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)?.[0].length ?? 0),
  );
  return published(body.map((line) => line.slice(indent)).join("\n") + "\n");
}

const folder = mkdtempSync(join(tmpdir(), "tsraft-readme-"));
after(() => rmSync(folder, { recursive: true, force: true }));

describe("docs/guide.md", () => {
  it("every TypeScript snippet is a region of a compiled, tested file, verbatim", () => {
    const guide = readFileSync(join(process.cwd(), "docs", "guide.md"), "utf8");
    const blocks = codeBlocks(guide, "ts");
    assert.ok(blocks.length >= 15, `${blocks.length} snippets`);
    for (const block of blocks) {
      const [first = "", ...rest] = block.split("\n");
      const source = /^\/\/ (\S+?)(?:#(\S+))?$/.exec(first);
      assert.ok(source !== null, `a snippet without its source line: ${first}`);
      const [, path = "", name] = source;
      assert.ok(/^(examples|test)\//.test(path), `${path}: a file the build compiles and a test runs`);
      const expected = name === undefined ? asPublished(path) : region(path, name);
      assert.equal(rest.join("\n"), expected, `the snippet of ${first.slice(3)} differs from the file`);
    }
  });
});

describe("README", () => {
  it("says the package is ESM, and its TypeScript blocks are the example files verbatim", () => {
    assert.match(README, /ES module package/);
    const blocks = codeBlocks(README, "ts");
    assert.deepEqual(blocks, [
      asPublished("examples/minimal/kv-store.ts"),
      asPublished("examples/minimal/node.ts"),
    ]);
  });

  it("three copies of its node program in one folder elect a leader, write, read and stop on SIGTERM", async () => {
    const ports = await freePorts(3);
    const peers = ports.map((port) => `127.0.0.1:${port}:0`).join(",");
    const copies = ports.map(
      (port) =>
        new Proc(
          spawn(process.execPath, [NODE_PROGRAM, `--port=${port}`, `--peers=${peers}`], {
            cwd: folder,
            stdio: ["ignore", "pipe", "pipe"],
          }),
        ),
    );
    try {
      const reads = await Promise.all(copies.map((copy) => copy.waitForLine(/^read: (.*)$/, 30_000)));
      const roles = copies.map((copy) => copy.lines.find((line) => /^(leader|follower):/.test(line)) ?? "");
      assert.equal(
        roles.filter((line) => line.startsWith("leader: applied at index")).length,
        1,
        roles.join("\n"),
      );
      assert.equal(roles.filter((line) => line.startsWith("follower: send writes to the leader")).length, 2);
      const leaderPort = ports[roles.findIndex((line) => line.startsWith("leader"))];
      assert.match(reads[ports.indexOf(leaderPort ?? 0)] ?? "", new RegExp(`written-by-${leaderPort}`));
      for (const port of ports)
        assert.ok(existsSync(join(folder, "data", String(port), "log")), `data/${port}`);
    } finally {
      const codes = await Promise.all(copies.map((copy) => copy.stop("SIGTERM")));
      assert.deepEqual(codes, [0, 0, 0], copies.map((copy) => copy.lines.join("\n")).join("\n---\n"));
    }
  });
});
