/**
 * Summarizes V8 heap snapshots by constructor: count and self size of the objects of each kind,
 * the largest first. Given two snapshots (fewer groups, then more), it prints the difference
 * divided by `--per` (the difference in groups): what one more idle group costs, kind by kind.
 *
 * node dist/bench/heap-summary.js A.heapsnapshot [B.heapsnapshot --per 800] [--top 40]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: string[]; readonly node_types: unknown[] } };
  readonly nodes: number[];
  readonly strings: string[];
}

/** Node types whose name says what they are (a constructor, a closure, an internal array...). */
const NAMED_TYPES = new Set(["object", "closure", "native", "array", "hidden", "code", "object shape"]);

/** Kind name -> [count, self bytes]. */
type Totals = Map<string, [number, number]>;

/** Objects grouped by constructor name; other node types (strings, code, arrays) by type. */
export function totalsOf(path: string): Totals {
  const snap = JSON.parse(readFileSync(path, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const totals: Totals = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? "?";
    const name = snap.strings[snap.nodes[i + nameAt] ?? 0] ?? "?";
    const kind = NAMED_TYPES.has(type) ? `${type}:${name.slice(0, 60)}` : type;
    const row = totals.get(kind) ?? [0, 0];
    row[0]++;
    row[1] += snap.nodes[i + sizeAt] ?? 0;
    totals.set(kind, row);
  }
  return totals;
}

function diff(a: Totals, b: Totals, per: number): Totals {
  const out: Totals = new Map();
  for (const [kind, [count, bytes]] of b) {
    const [c0, b0] = a.get(kind) ?? [0, 0];
    out.set(kind, [(count - c0) / per, (bytes - b0) / per]);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { per: { type: "string", default: "1" }, top: { type: "string", default: "40" } },
  });
  const [first, second] = positionals;
  if (first === undefined) throw new Error("usage: heap-summary A.heapsnapshot [B.heapsnapshot --per N]");
  const totals =
    second === undefined ? totalsOf(first) : diff(totalsOf(first), totalsOf(second), Number(values.per));
  const rows = [...totals].sort((x, y) => y[1][1] - x[1][1]).slice(0, Number(values.top));
  const sum = [...totals.values()].reduce((s, [, bytes]) => s + bytes, 0);
  console.log(`total self bytes${second === undefined ? "" : " per unit"}: ${Math.round(sum)}`);
  for (const [kind, [count, bytes]] of rows) {
    console.log(`${Math.round(bytes).toString().padStart(10)} ${count.toFixed(2).padStart(10)}  ${kind}`);
  }
}
