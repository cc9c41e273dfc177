/* global process, console */
// Summarizes a V8 .cpuprofile: self time per function and per file, top N.
// Usage: node scripts/prof-summary.mjs <file.cpuprofile> [N]
import { readFileSync } from "node:fs";

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
// FROM_MS=<ms>: only samples taken at least that long after the profile started (skip startup).
const fromUs = Number(process.env.FROM_MS ?? 0) * 1000;
const selfTicks = new Map();
let total = 0;
let elapsedUs = 0;
profile.samples.forEach((id, i) => {
  elapsedUs += profile.timeDeltas[i] ?? 0;
  if (elapsedUs < fromUs) return;
  selfTicks.set(id, (selfTicks.get(id) ?? 0) + 1);
  total++;
});
const byFn = new Map();
const byFile = new Map();
for (const [id, ticks] of selfTicks) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const short = url.replace(/^.*\/(dist|node_modules)\//, "$1/");
  const fn = `${functionName || "(anon)"} ${short}:${lineNumber + 1}`;
  byFn.set(fn, (byFn.get(fn) ?? 0) + ticks);
  byFile.set(short || functionName, (byFile.get(short || functionName) ?? 0) + ticks);
}
const show = (title, map) => {
  console.log(`## ${title}`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
};
show("self time by function", byFn);
show("self time by file", byFile);

// With a third argument, the call stacks (leaf first) under which that function spends its self time.
const focus = process.argv[4];
if (focus !== undefined) {
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const stacks = new Map();
  for (const [id, ticks] of selfTicks) {
    if (byId.get(id).callFrame.functionName !== focus) continue;
    const frames = [];
    for (let p = parentOf.get(id); p !== undefined && frames.length < 8; p = parentOf.get(p)) {
      const f = byId.get(p).callFrame;
      frames.push(`${f.functionName || "(anon)"}@${f.url.split("/").pop()}:${f.lineNumber + 1}`);
    }
    const key = frames.join(" < ");
    stacks.set(key, (stacks.get(key) ?? 0) + ticks);
  }
  console.log(`## stacks of ${focus}`);
  for (const [k, v] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 8))
    console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
}

// INCLUSIVE=1: time under each function (self plus callees).
if (process.env.INCLUSIVE === "1") {
  const parentOf = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const incl = new Map();
  for (const [id, ticks] of selfTicks) {
    const seen = new Set();
    for (let p = id; p !== undefined; p = parentOf.get(p)) {
      const f = byId.get(p).callFrame;
      const key = `${f.functionName || "(anon)"} ${f.url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${f.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      incl.set(key, (incl.get(key) ?? 0) + ticks);
    }
  }
  show("inclusive time by function", incl);
}
