/**
 * Command-line flags in braft's (gflags) style: `--name=value` or `--name value`, booleans also as
 * bare `--name` / `--noname`, `--help` lists them. Just enough for the examples, without a
 * dependency.
 */

/** One flag: its default (which also fixes its type) and what it means. */
export interface FlagSpec {
  readonly default: string | number | boolean;
  readonly help: string;
}

/** The parsed values, typed by their defaults. */
export type FlagValues<S extends Record<string, FlagSpec>> = {
  -readonly [K in keyof S]: S[K]["default"] extends number
    ? number
    : S[K]["default"] extends boolean
      ? boolean
      : string;
};

/** Parses `argv` against `spec`; prints usage and exits on `--help` or an unknown or bad flag. */
export function parseFlags<S extends Record<string, FlagSpec>>(
  program: string,
  spec: S,
  argv: readonly string[] = process.argv.slice(2),
): FlagValues<S> {
  const values: Record<string, string | number | boolean> = {};
  for (const [name, flag] of Object.entries(spec)) values[name] = flag.default;
  const fail = (why: string): never => {
    console.error(`${program}: ${why}\n${usage(program, spec)}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--help" || arg === "-h") {
      console.log(usage(program, spec));
      process.exit(0);
    }
    const match = /^--?([a-zA-Z0-9_-]+)(?:=(.*))?$/s.exec(arg);
    if (match === null) fail(`unexpected argument ${arg}`);
    let name = (match?.[1] ?? "").replaceAll("-", "_");
    let text = match?.[2];
    if (!(name in spec) && name.startsWith("no") && typeof spec[name.slice(2)]?.default === "boolean") {
      name = name.slice(2);
      text = "false";
    }
    const flag = spec[name];
    if (flag === undefined) return fail(`unknown flag --${name}`);
    if (text === undefined) {
      const next = argv[i + 1];
      if (typeof flag.default === "boolean" && (next === undefined || !/^(true|false|1|0)$/.test(next))) {
        text = "true";
      } else if (next === undefined) {
        return fail(`--${name} needs a value`);
      } else {
        text = next;
        i++;
      }
    }
    values[name] = convert(name, flag, text, fail);
  }
  return values as FlagValues<S>;
}

function convert(
  name: string,
  flag: FlagSpec,
  text: string,
  fail: (why: string) => never,
): string | number | boolean {
  if (typeof flag.default === "number") {
    const value = Number(text);
    return text.trim() !== "" && Number.isFinite(value) ? value : fail(`--${name}=${text} is not a number`);
  }
  if (typeof flag.default === "boolean") {
    if (/^(true|1)$/.test(text)) return true;
    if (/^(false|0)$/.test(text)) return false;
    return fail(`--${name}=${text} is not a boolean`);
  }
  return text;
}

function usage(program: string, spec: Record<string, FlagSpec>): string {
  const lines = Object.entries(spec).map(
    ([name, flag]) => `  --${name.padEnd(22)} ${flag.help} (default: ${JSON.stringify(flag.default)})`,
  );
  return [`usage: ${program} [--flag=value ...]`, ...lines].join("\n");
}
