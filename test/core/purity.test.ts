/**
 * src/core/ must stay pure: it imports only its own modules and touches no clock, timer,
 * randomness, process or Promise. (ESLint enforces the same; this test keeps the promise
 * visible in `npm test` output.)
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const coreDir = join(process.cwd(), "src", "core");
const forbidden = [
  /\bDate\b/,
  /Math\.random/,
  /\bsetTimeout\b/,
  /\bsetInterval\b/,
  /\bsetImmediate\b/,
  /\bPromise\b/,
  /\bprocess\./,
  /\basync\b/,
  /\bawait\b/,
];

test("core imports nothing outside itself and uses no time, randomness or I/O", () => {
  const files = readdirSync(coreDir).filter((name) => name.endsWith(".ts"));
  assert.ok(files.length > 5);
  for (const file of files) {
    const text = readFileSync(join(coreDir, file), "utf8");
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    for (const match of code.matchAll(/from\s+"([^"]+)"/g)) {
      assert.match(match[1] as string, /^\.\/[\w-]+\.js$/, `${file} imports ${match[1]}`);
    }
    for (const pattern of forbidden) assert.doesNotMatch(code, pattern, `${file} uses ${pattern}`);
  }
});
