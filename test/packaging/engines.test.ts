/**
 * NoBadEngine: `npm ci` warns EBADENGINE when a package of the lockfile does not accept the
 * running Node. Every package must accept the lowest version of each range our `engines` field
 * admits, and the Node running the tests must be one of ours.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

type Version = readonly [number, number, number];

function parseVersion(text: string): Version {
  const [major = 0, minor = 0, patch = 0] = text
    .replace(/^v/, "")
    .split(".")
    .map((part) => Number(part));
  return [major, minor, patch];
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** One comparator of a node-semver range, in the forms engines fields use. */
function satisfiesComparator(version: Version, comparator: string): boolean {
  const match = /^(\^|~|>=|<=|>|<|=)?\s*v?(\d+(?:\.\d+){0,2})(?:\.x)?$/.exec(comparator);
  if (match === null) throw new Error(`cannot read the engines range "${comparator}"`);
  const [, op = "", text = ""] = match;
  const bound = parseVersion(text);
  const parts = text.split(".").length;
  const c = compare(version, bound);
  switch (op) {
    case ">=":
      return c >= 0;
    case ">":
      return c > 0;
    case "<=":
      return c <= 0;
    case "<":
      return c < 0;
    case "^":
      return c >= 0 && version[0] === bound[0];
    case "~":
      return c >= 0 && version[0] === bound[0] && (parts < 2 || version[1] === bound[1]);
    default:
      // "20" or "20.1": any version with that prefix; "20.1.2": exactly it.
      return version.slice(0, parts).every((v, i) => v === bound[i]);
  }
}

/** Whether `version` satisfies `range` (`a || b`, each a space-separated conjunction). */
export function satisfies(version: Version, range: string): boolean {
  return range.split("||").some((alternative) => {
    const comparators = alternative
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1")
      .split(/\s+/)
      .filter((c) => c !== "" && c !== "*");
    return comparators.every((c) => satisfiesComparator(version, c));
  });
}

interface LockEntry {
  readonly version?: string;
  readonly engines?: { readonly node?: string };
}

test("NoBadEngine: every package of the lockfile runs on every Node our engines field admits", () => {
  const manifest = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const ours = manifest.engines.node;
  const current = parseVersion(process.version);
  assert.ok(satisfies(current, ours), `Node ${process.version} is not in our engines range ${ours}`);
  // The lowest version of each alternative: ">=24" -> 24.0.0, "^20.19.0" -> 20.19.0.
  const lowest = ours.split("||").map((alternative) => parseVersion(alternative.replace(/[^\d.]/g, "")));
  for (const version of [...lowest, current]) {
    const refusing = Object.entries(lock.packages).flatMap(([path, entry]) => {
      const range = entry.engines?.node;
      return range === undefined || satisfies(version, range)
        ? []
        : [`${path}@${entry.version ?? "?"} (${range})`];
    });
    assert.deepEqual(refusing, [], `on Node ${version.join(".")} these would warn EBADENGINE`);
  }
});

test("the engines range reader understands the forms the lockfile uses", () => {
  assert.ok(satisfies([20, 19, 0], "^20.19.0 || ^22.13.0 || >=24"));
  assert.ok(!satisfies([20, 9, 0], "^20.19.0 || ^22.13.0 || >=24"));
  assert.ok(!satisfies([21, 0, 0], "^20.19.0 || ^22.13.0 || >=24"));
  assert.ok(satisfies([20, 0, 0], ">= 18"));
  assert.ok(!satisfies([20, 20, 2], ">=22"));
  assert.ok(satisfies([20, 1, 0], "^16 || ^18 || >=20"));
  assert.ok(satisfies([20, 1, 0], ">=14.17"));
  assert.throws(() => satisfies([20, 0, 0], ">=20 <banana"), /cannot read/);
});
