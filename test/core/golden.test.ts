/**
 * Golden interaction tests (etcd's testdata/*.txt): every file in golden/testdata is replayed
 * through the core and its printed messages and Readies compared with the file.
 * TSRAFT_GOLDEN_REWRITE=1 rewrites the files with what the core does now (review the diff).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { runFile } from "./golden/datadriven.js";
import { InteractionEnv } from "./golden/interaction-env.js";

const TESTDATA = new URL("../../../test/core/golden/testdata/", import.meta.url);
const rewrite = process.env["TSRAFT_GOLDEN_REWRITE"] === "1";

for (const file of readdirSync(TESTDATA)
  .filter((name) => name.endsWith(".txt"))
  .sort()) {
  test(`golden ${file}`, () => {
    const env = new InteractionEnv();
    const failures = runFile(new URL(file, TESTDATA).pathname, (testCase) => env.handle(testCase), rewrite);
    assert.deepEqual(failures, [], failures.join("\n\n"));
  });
}
