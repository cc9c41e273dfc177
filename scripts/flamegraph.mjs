#!/usr/bin/env node
/**
 * A flame graph (SVG) from `perf script` output: each sample's stack is folded root first, the
 * folded stacks are merged into a tree, and every frame wider than 0.1% of the samples is drawn,
 * root at the bottom, width proportional to its samples. Colours say where the time went:
 * kernel orange, JavaScript green (optimized darker), Node and V8's C++ and builtins yellow,
 * everything else grey. Hover a frame for its name, samples and share.
 *
 *   perf record -F 4999 -g -p <pid> -- sleep 3      # node started with --perf-basic-prof
 *   perf script -i perf.data | node scripts/flamegraph.mjs "title" > graph.svg
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const WIDTH = 1200;
const ROW = 16;
const FONT = 11;
const CHAR_WIDTH = 6.4;
const MIN_SHARE = 0.001;

/** `JS:*name file:///.../dist/src/a/b.js:12:3` -> `JS:*name a/b.js:12`; C++ signatures shortened. */
function cleanName(raw) {
  const symbol = raw.replace(/\+0x[0-9a-f]+$/, "");
  const js = /^(JS:[*~^]?)(\S*) (?:file:\/\/\/\S*?\/dist\/)?(\S*?):(\d+):\d+$/.exec(symbol);
  if (js !== null) return `${js[1]}${js[2] || "(anonymous)"} ${js[3]}:${js[4]}`;
  return symbol.replace(/\(.*\)( const)?$/, "");
}

/** Folded stacks from `perf script` text: "root;...;leaf" -> samples. */
function fold(text) {
  const stacks = new Map();
  let frames = [];
  const flush = () => {
    if (frames.length > 0) {
      const key = frames.reverse().join(";");
      stacks.set(key, (stacks.get(key) ?? 0) + 1);
    }
    frames = [];
  };
  for (const line of text.split("\n")) {
    if (line.trim() === "") flush();
    else if (/^\s/.test(line)) {
      const frame = /^\s+[0-9a-f]+\s+(.+?)\s+\((.*)\)$/.exec(line);
      if (frame === null) continue;
      const symbol = frame[1] === "[unknown]" ? `[${frame[2].split("/").pop()}]` : frame[1];
      const kernel = frame[2].includes("kernel.kallsyms") ? "[k] " : "";
      frames.push(kernel + cleanName(symbol));
    }
  }
  flush();
  return stacks;
}

function tree(stacks) {
  const root = { name: "all", value: 0, children: new Map() };
  for (const [stack, count] of stacks) {
    root.value += count;
    let node = root;
    for (const name of stack.split(";")) {
      let child = node.children.get(name);
      if (child === undefined) node.children.set(name, (child = { name, value: 0, children: new Map() }));
      child.value += count;
      node = child;
    }
  }
  return root;
}

function colour(name) {
  const shade = (seed) => [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 40, seed);
  if (name.startsWith("[k] ")) return `rgb(230,${120 + shade(0)},40)`;
  if (name.startsWith("JS:*")) return `rgb(60,${150 + shade(0)},60)`;
  if (name.startsWith("JS:")) return `rgb(120,${190 + shade(0)},110)`;
  if (/^(Builtins_|v8::|node::|uv_|Runtime_)/.test(name)) return `rgb(220,${190 + shade(0)},60)`;
  return `rgb(${170 + shade(0)},170,170)`;
}

const escape = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function render(root, title) {
  const rects = [];
  let depthMax = 0;
  const walk = (node, x, depth) => {
    const width = (node.value / root.value) * WIDTH;
    if (node.value / root.value < MIN_SHARE) return;
    depthMax = Math.max(depthMax, depth);
    rects.push({ node, x, width, depth });
    let childX = x;
    const children = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const child of children) {
      walk(child, childX, depth + 1);
      childX += (child.value / root.value) * WIDTH;
    }
  };
  walk(root, 0, 0);
  const height = (depthMax + 1) * ROW + 40;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="monospace" font-size="${FONT}">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escape(title)} (${root.value} samples)</text>`,
  ];
  for (const { node, x, width, depth } of rects) {
    const y = height - (depth + 1) * ROW;
    const share = ((100 * node.value) / root.value).toFixed(2);
    const chars = Math.floor((width - 4) / CHAR_WIDTH);
    const label =
      chars < 3 ? "" : node.name.length <= chars ? node.name : `${node.name.slice(0, chars - 2)}..`;
    out.push(
      `<g><title>${escape(node.name)} (${node.value} samples, ${share}%)</title>` +
        `<rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.5, width - 0.5).toFixed(1)}" height="${ROW - 1}" fill="${colour(node.name)}"/>` +
        (label === "" ? "" : `<text x="${(x + 2).toFixed(1)}" y="${y + ROW - 4}">${escape(label)}</text>`) +
        "</g>",
    );
  }
  out.push("</svg>");
  return out.join("\n");
}

const title = process.argv[2] ?? "flame graph";
process.stdout.write(render(tree(fold(readFileSync(0, "utf8"))), title));
