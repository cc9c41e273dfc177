/**
 * PackInstall: what `npm i tsraft` gives a user. A clean copy of the checkout (no dist/) is packed
 * with `npm pack`, whose prepack script builds it; the tarball is installed into an empty project
 * with `npm ci`; a program type-checked with tsc (strict, against the installed declarations)
 * starts a 1-node group through the package, applies and reads back; `npx tsraft --version`
 * prints the package's version.
 *
 * Runtime dependencies come from npm's cache (filled by `npm ci` of the checkout) at the versions
 * of the checkout's lockfile, so the test needs no network where CI already installed, and only
 * the npm registry elsewhere.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { cleanCopy, npm, packReport, run, writeUserProject } from "./pack.js";
import { USER_PROGRAM, userTsconfig } from "./user-project.js";

const checkout = process.cwd();
const work = mkdtempSync(join(tmpdir(), "tsraft-pack-"));
after(() => rmSync(work, { recursive: true, force: true }));

const version = (JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as { version: string })
  .version;

describe("PackInstall", () => {
  it("packs a clean clone with its build, installs it and runs a typed program against it", async (t) => {
    let mark = performance.now();
    /** Reports how long each step took: the test must stay fast (docs/testing.md). */
    const step = (what: string): void => {
      t.diagnostic(`${what}: ${Math.round(performance.now() - mark)} ms`);
      mark = performance.now();
    };
    const clone = join(work, "clone");
    await cleanCopy(checkout, clone);
    const packed = await npm(["pack", "--json", "--pack-destination", work], clone);
    const report = packReport(packed.stdout);
    step("copy and npm pack (prepack builds)");
    const shipped = new Set(report.files.map((f) => f.path));
    for (const file of ["LICENSE", "README.md", "package.json", "dist/src/index.js", "dist/src/index.d.ts"]) {
      assert.ok(shipped.has(file), `the tarball lacks ${file}`);
    }
    assert.ok(shipped.has("dist/src/cli/main.js") && shipped.has("dist/src/testing/index.js"));
    const stray = [...shipped].filter((f) => !/^(dist\/src\/|LICENSE$|README\.md$|package\.json$)/.test(f));
    assert.deepEqual(stray, [], "the tarball ships only the build, the license, the readme and the manifest");

    const project = join(work, "app");
    rmSync(project, { recursive: true, force: true });
    await run("mkdir", ["-p", project], work);
    writeUserProject(project, checkout, join(work, report.filename));
    const installed = await npm(["ci"], project);
    assert.doesNotMatch(installed.stdout + installed.stderr, /EBADENGINE|npm (warn|WARN)/);
    step("npm ci of the tarball");

    // The installed source maps carry their sources, so they resolve without the repository.
    const maps = join(project, "node_modules", "tsraft", "dist", "src");
    const map = JSON.parse(readFileSync(join(maps, "index.js.map"), "utf8")) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    assert.equal(map.sourcesContent?.length, map.sources.length);
    assert.ok(map.sourcesContent.every((s) => typeof s === "string" && s.length > 0));
    assert.ok(readdirSync(maps).some((f) => f.endsWith(".d.ts")));

    writeFileSync(join(project, "app.ts"), USER_PROGRAM);
    writeFileSync(join(project, "tsconfig.json"), userTsconfig(resolve(checkout, "node_modules", "@types")));
    await run(
      process.execPath,
      [resolve(checkout, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      project,
    );
    step("tsc of the program");
    const output = await run(process.execPath, ["app.js"], project, 60_000);
    step("the program");
    const seen = JSON.parse(output.stdout.trim().split("\n").at(-1) ?? "") as Record<string, unknown>;
    assert.deepEqual(seen, {
      address: seen["address"],
      results: [1, 3, 42],
      total: 42,
      refused: "ESHUTDOWN",
    });
    assert.match(String(seen["address"]), /^127\.0\.0\.1:\d+$/, "RaftServer.start(port) listens on loopback");

    // `--` so that npx hands --version to tsraft instead of printing npm's own.
    const npx = await run("npx", ["--no", "--", "tsraft", "--version"], project);
    assert.equal(npx.stdout.trim(), version);
    step("npx tsraft --version");
  });
});
