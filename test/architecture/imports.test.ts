/**
 * The import graph of src/ follows the layer order of eslint.config.js (LAYERS, bottom first):
 * every import between folders points down, so the folder graph has no cycle, and src/core has
 * no import cycle. The lint rules give the same answer file by file while
 * editing; this test sees every import at once (dynamic ones too) and the cycles, which a
 * per-file rule cannot. docs/architecture.md explains the order.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import ts from "typescript";

const root = process.cwd();
const srcDir = join(root, "src");

/** The layers, bottom first, from the lint config (one list for both checks). */
async function layers(): Promise<readonly string[]> {
  const config = (await import(pathToFileURL(join(root, "eslint.config.js")).href)) as { LAYERS: string[] };
  return config.LAYERS;
}

/** Every .ts file under `dir`, as paths relative to src/ with "/" separators. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [relative(srcDir, path).split(sep).join("/")] : [];
  });
}

/**
 * The files of src/ a file imports: static imports and exports (type-only ones included, they
 * are dependencies all the same), side-effect imports and import() calls. Packages and node:*
 * modules are left out.
 */
function importsOf(file: string): string[] {
  const text = readFileSync(join(srcDir, file), "utf8");
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName);
  return specifiers
    .filter((specifier) => specifier.startsWith("./") || specifier.startsWith("../"))
    .map((specifier) => {
      const target = resolve(dirname(join(srcDir, file)), specifier).replace(/\.js$/, ".ts");
      return relative(srcDir, target).split(sep).join("/");
    });
}

/** The layer of a file: its folder under src/, or "root" for src/*.ts. */
function layerOf(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? "root" : file.slice(0, slash);
}

/** The strongly connected components with more than one node or a self-edge (Tarjan). */
function cyclesOf(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.has(node) === true) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

function addEdge(graph: Map<string, Set<string>>, from: string, to: string): void {
  const edges = graph.get(from) ?? new Set<string>();
  edges.add(to);
  graph.set(from, edges);
}

const files = sourceFiles(srcDir);
const edges = files.flatMap((file) => importsOf(file).map((target) => ({ file, target })));

test("every folder of src/ is a layer of eslint.config.js", async () => {
  const known = new Set(await layers());
  const unknown = [...new Set(files.map(layerOf))].filter((layer) => !known.has(layer));
  assert.deepEqual(
    unknown,
    [],
    "add the new folder to LAYERS in eslint.config.js, at its place in the order",
  );
});

test("every import between layers points down the layer order", async () => {
  const order = await layers();
  assert.ok(edges.length > 300, `only ${edges.length} imports found: is the parser broken?`);
  const upward = edges
    .filter(({ file, target }) => order.indexOf(layerOf(target)) > order.indexOf(layerOf(file)))
    .map(({ file, target }) => `${file} -> ${target}`);
  assert.deepEqual(upward, [], `imports against the order ${order.join(" <- ")}`);
});

test("the import graph between folders has no cycle", () => {
  const graph = new Map<string, Set<string>>();
  for (const { file, target } of edges) {
    if (layerOf(file) !== layerOf(target)) addEdge(graph, layerOf(file), layerOf(target));
  }
  assert.ok(graph.size >= 8);
  assert.deepEqual(cyclesOf(graph), []);
});

test("src/core has no import cycle (the closed core of issue 16, item 2)", () => {
  const graph = new Map<string, Set<string>>();
  for (const { file, target } of edges) {
    if (layerOf(file) === "core" && layerOf(target) === "core") addEdge(graph, file, target);
  }
  assert.deepEqual(cyclesOf(graph), [], "an import cycle inside core");
});
