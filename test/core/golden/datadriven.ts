/**
 * A small reader and writer for etcd's datadriven test files (cockroachdb/datadriven): each case
 * is a command line, a `----` separator, the expected output, and a blank line. Comment lines
 * start with `#`. In rewrite mode the file is written back with the output the harness produced.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** One argument: `key`, `key=value` or `key=(a,b,c)`. */
export interface CommandArg {
  readonly key: string;
  readonly values: readonly string[];
}

export interface TestCase {
  /** 1-based line of the command, for failure messages. */
  readonly line: number;
  readonly command: string;
  readonly args: readonly CommandArg[];
  /** The command line as written. */
  readonly input: string;
  readonly expected: string;
}

/** A file split into the text before each case (comments, blank lines) and the cases. */
interface ParsedFile {
  readonly cases: readonly TestCase[];
  /** prefixes[i] precedes cases[i]; prefixes[cases.length] ends the file. */
  readonly prefixes: readonly string[];
}

export function parseArgs(words: readonly string[]): CommandArg[] {
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq < 0) return { key: word, values: [] };
    const key = word.slice(0, eq);
    const raw = word.slice(eq + 1);
    const list = raw.startsWith("(") && raw.endsWith(")") ? raw.slice(1, -1) : raw;
    return { key, values: list === "" ? [] : list.split(",") };
  });
}

/** Splits a command line into words, keeping `key=(a, b)` lists whole. */
function splitWords(input: string): string[] {
  const words: string[] = [];
  let current = "";
  let depth = 0;
  for (const char of input) {
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (char === " " && depth === 0) {
      if (current !== "") words.push(current);
      current = "";
    } else if (char !== " " || depth === 0) {
      current += char;
    }
  }
  if (current !== "") words.push(current);
  return words;
}

function parseFile(text: string): ParsedFile {
  const lines = text.split("\n");
  const cases: TestCase[] = [];
  const prefixes: string[] = [];
  let prefix: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === "" || line.startsWith("#") || lines[i + 1] !== "----") {
      if (line.trim() !== "" && !line.startsWith("#"))
        throw new Error(`line ${i + 1}: expected ---- after ${line}`);
      prefix.push(line);
      i++;
      continue;
    }
    const output: string[] = [];
    let j = i + 2;
    while (j < lines.length && (lines[j] as string) !== "") output.push(lines[j++] as string);
    const words = splitWords(line);
    cases.push({
      line: i + 1,
      command: words[0] ?? "",
      args: parseArgs(words.slice(1)),
      input: line,
      expected: output.join("\n"),
    });
    prefixes.push(prefix.join("\n"));
    prefix = [];
    i = j;
  }
  prefixes.push(prefix.join("\n"));
  return { cases, prefixes };
}

/**
 * Runs every case of `path` through `run`. Returns the mismatches (empty when all match); in
 * rewrite mode rewrites the file with the actual outputs (comments kept) and returns none.
 */
export function runFile(path: string, run: (testCase: TestCase) => string, rewrite: boolean): string[] {
  const parsed = parseFile(readFileSync(path, "utf8"));
  const failures: string[] = [];
  const blocks: string[] = [];
  parsed.cases.forEach((testCase, index) => {
    const output = run(testCase).replace(/\n+$/, "");
    const actual = output === "" ? "ok" : output;
    if (!rewrite && actual !== testCase.expected) {
      failures.push(
        `${path}:${testCase.line}: ${testCase.input}\n--- expected\n${testCase.expected}\n--- actual\n${actual}`,
      );
    }
    blocks.push(`${comments(parsed.prefixes[index])}${testCase.input}\n----\n${actual}`);
  });
  if (rewrite) {
    const tail = comments(parsed.prefixes[parsed.cases.length]);
    writeFileSync(path, `${blocks.join("\n\n")}\n${tail === "" ? "" : `\n${tail}`}`);
  }
  return failures;
}

/** The comment lines of a prefix, each followed by a newline. */
function comments(prefix: string | undefined): string {
  const lines = (prefix ?? "").split("\n").filter((line) => line.startsWith("#"));
  return lines.map((line) => `${line}\n`).join("");
}
