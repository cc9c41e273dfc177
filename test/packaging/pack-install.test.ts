/**
 * PackInstall: what `npm i tsraft` gives a user. A clean copy of the checkout (no dist/) is packed
 * with `npm pack`, whose prepack script builds it; the tarball is installed into an empty project
 * with `npm ci`; a program type-checked with tsc (strict, against the installed declarations)
 * starts a 1-node group through the package, applies and reads back; `npx tsraft --version`
 * prints the package's version. Then, in the same installed project, the README's two programs,
 * copied from its text and compiled with the user's tsc, run as three processes as the README
 * starts them.
 *
 * Runtime dependencies come from npm's cache (filled by `npm ci` of the checkout) at the versions
 * of the checkout's lockfile, so the test needs no network where CI already installed, and only
 * the npm registry elsewhere.
 */
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import { cleanCopy, npm, packReport, run, writeUserProject } from "./pack.js";
import { copyReadmePrograms, runRound, withFreshPorts } from "./readme-cluster.js";
import { USER_PROGRAM, userTsconfig } from "./user-project.js";

const checkout = process.cwd();
const work = mkdtempSync(join(tmpdir(), "tsraft-pack-"));
after(() => rmSync(work, { recursive: true, force: true }));

const tsc = resolve(checkout, "node_modules", "typescript", "bin", "tsc");
const typeRoots = resolve(checkout, "node_modules", "@types");
/** The project with the tarball installed, once the first test got that far. */
let installedProject: string | undefined;

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
    installedProject = project;

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
    writeFileSync(join(project, "tsconfig.json"), userTsconfig(typeRoots));
    await run(process.execPath, [tsc, "-p", "."], project);
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

  it("the README's programs, copied from its text and compiled in that project, run 3 nodes: one leader writes, all read it back, all exit 0", async (t) => {
    if (installedProject === undefined) return t.skip("the tarball did not install");
    const started = performance.now();
    const folder = join(installedProject, "readme");
    const readme = readFileSync(join(checkout, "README.md"), "utf8");
    assert.match(readme, /^node node\.js --port=\d+ --peers=(127\.0\.0\.1:\d+:0,){2}127\.0\.0\.1:\d+:0 &$/m);
    copyReadmePrograms(readme, folder);
    // What `npm i -D typescript @types/node` gives: the checkout's, linked (no network).
    mkdirSync(join(installedProject, "node_modules", "@types"), { recursive: true });
    symlinkSync(join(typeRoots, "node"), join(installedProject, "node_modules", "@types", "node"), "dir");
    await run(process.execPath, [tsc], folder); // `npx tsc`, with the README's tsconfig.json
    t.diagnostic(`tsc of the README's programs: ${Math.round(performance.now() - started)} ms`);

    await withFreshPorts(async (ports) => {
      const first = await runRound(folder, ports);
      assert.deepEqual(first.codes, [0, 0, 0], first.output);
      const leader = first.roles.findIndex((line) => line.startsWith("leader: applied at index"));
      assert.ok(leader >= 0, first.output);
      assert.equal(
        first.roles.filter((line) => line.startsWith("follower: send writes to the leader")).length,
        2,
      );
      const written: [string, string] = [`written-by-${ports[leader]}`, "hello"];
      assert.deepEqual(first.reads[leader], [written], "the leader reads its own write");
      // Started again on their data, every copy's linearizable read comes after the write.
      const second = await runRound(folder, ports);
      assert.deepEqual(second.codes, [0, 0, 0], second.output);
      for (const read of second.reads) assert.deepEqual(read[0], written, second.output);
    });
    t.diagnostic(`the README's programs, tsc and two rounds: ${Math.round(performance.now() - started)} ms`);
  });
});
