/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for the /metrics
 * tests: every line must match the grammar, every family needs HELP and TYPE before its samples
 * and its samples together, no series twice, histograms complete (buckets cumulative and
 * monotone in `le` order, ending at +Inf equal to _count, with _sum and _count).
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Parses `text`; throws naming the line on any violation. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, Family>();
  const pending = new Map<string, { help?: string; type?: string }>();
  const seen = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1} "${line}"`;
    if (line === "") return;
    if (line.startsWith("#")) {
      const meta = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (meta === null) return; // a plain comment
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name at ${where}`);
      if (families.has(name)) throw new Error(`${kind} after samples of ${name} at ${where}`);
      const entry = pending.get(name) ?? {};
      if (kind === "HELP") {
        if (entry.help !== undefined) throw new Error(`second HELP at ${where}`);
        checkEscapes(rest, /\\[^\\n]/, where);
        entry.help = rest;
      } else {
        if (entry.type !== undefined) throw new Error(`second TYPE at ${where}`);
        if (!TYPES.has(rest)) throw new Error(`unknown type at ${where}`);
        entry.type = rest;
      }
      pending.set(name, entry);
      current = name;
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, pending, families);
    if (family === undefined) throw new Error(`sample without HELP/TYPE at ${where}`);
    if (family !== current && families.has(family))
      throw new Error(`family ${family} not contiguous at ${where}`);
    current = family;
    if (!families.has(family)) {
      const meta = pending.get(family)!;
      if (meta.help === undefined || meta.type === undefined)
        throw new Error(`family ${family} lacks HELP or TYPE at ${where}`);
      families.set(family, { name: family, type: meta.type, help: meta.help, samples: [] });
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series at ${where}`);
    seen.add(key);
    families.get(family)!.samples.push(sample);
  });
  for (const [name, meta] of pending) {
    if (families.has(name)) continue;
    if (meta.help === undefined || meta.type === undefined) throw new Error(`${name} lacks HELP or TYPE`);
    families.set(name, { name, type: meta.type, help: meta.help, samples: [] });
  }
  for (const family of families.values()) {
    if (family.type === "histogram") checkHistogram(family);
    if (family.type === "counter")
      for (const s of family.samples)
        if (s.value < 0) throw new Error(`negative counter ${s.name} ${JSON.stringify(s.labels)}`);
  }
  return families;
}

/** The family a sample belongs to: its own name, or a histogram's/summary's base name. */
function familyOf(
  name: string,
  pending: Map<string, { type?: string }>,
  families: Map<string, Family>,
): string | undefined {
  if (pending.has(name)) {
    const type = pending.get(name)?.type;
    if (type !== "histogram" && type !== "summary") return name;
  }
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!name.endsWith(suffix)) continue;
    const base = name.slice(0, -suffix.length);
    const type = pending.get(base)?.type ?? families.get(base)?.type;
    if (type === "histogram" || (type === "summary" && suffix !== "_bucket")) return base;
  }
  return undefined;
}

function parseSample(line: string, where: string): Sample {
  const head = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (head === null) throw new Error(`bad sample at ${where}`);
  const name = head[1] as string;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const pair = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,?)/.exec(rest);
      if (pair === null) throw new Error(`bad label at ${where}`);
      const [all, label, value, comma] = pair as unknown as [string, string, string, string];
      if (!LABEL_NAME.test(label) || label.startsWith("__")) throw new Error(`bad label name at ${where}`);
      if (Object.hasOwn(labels, label)) throw new Error(`label ${label} twice at ${where}`);
      labels[label] = value.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      rest = rest.slice(all.length);
      if (comma === "" && !rest.startsWith("}")) throw new Error(`missing comma at ${where}`);
    }
    rest = rest.slice(1);
  }
  const value = /^ (\S+)( -?\d+)?$/.exec(rest);
  if (value === null) throw new Error(`bad value at ${where}`);
  return { name, labels, value: parseValue(value[1] as string, where) };
}

function parseValue(text: string, where: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad number at ${where}`);
  return Number(text);
}

function checkEscapes(text: string, bad: RegExp, where: string): void {
  if (bad.test(text)) throw new Error(`bad escape at ${where}`);
}

/** Buckets cumulative and monotone by `le`, +Inf last and equal to _count, _sum present. */
function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${family.name}_bucket`) {
      if (le === undefined) throw new Error(`${s.name} without le`);
      entry.buckets.push([parseValue(le, `le of ${s.name}`), s.value]);
    } else if (s.name === `${family.name}_sum`) entry.sum = s.value;
    else if (s.name === `${family.name}_count`) entry.count = s.value;
    else throw new Error(`${s.name} in histogram ${family.name}`);
  }
  for (const [key, { buckets, sum, count }] of series) {
    const what = `${family.name}${key}`;
    if (sum === undefined || count === undefined) throw new Error(`${what} lacks _sum or _count`);
    if (buckets.length === 0) throw new Error(`${what} has no buckets`);
    for (let i = 1; i < buckets.length; i++) {
      const [le, n] = buckets[i]!;
      const [prevLe, prevN] = buckets[i - 1]!;
      if (!(le > prevLe)) throw new Error(`${what}: le not increasing`);
      if (n < prevN) throw new Error(`${what}: buckets not monotone`);
    }
    const last = buckets[buckets.length - 1]!;
    if (last[0] !== Number.POSITIVE_INFINITY) throw new Error(`${what}: no +Inf bucket`);
    if (last[1] !== count) throw new Error(`${what}: +Inf bucket ${last[1]} != _count ${count}`);
  }
}

/** The samples of `name` (a family or a sample name) whose labels include `labels`. */
export function samples(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  const all = [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name);
  return all.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The sum of those samples' values (0 when none). */
export function total(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  return samples(families, name, labels).reduce((acc, s) => acc + s.value, 0);
}
