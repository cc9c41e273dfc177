/**
 * `/flags`: braft's flags with value, default and description, as brpc's /flags page lists gflags
 * (text, HTML for browsers, `?format=json`). `/flags/<name>` (or `a,b` and `raft_*`) narrows the
 * list; `/flags/<name>?setvalue=<v>` changes the process-wide value: 400 for a bad value, 403 for
 * a flag that is not changeable at run time (see flag-specs.ts for which and why). A value is
 * checked by the same rules as `init()` checks (src/node/validate-options.ts); each row shows them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RaftError } from "../core/errors.js";
import { defaultFlags, flags, type RaftFlags } from "../node/flags.js";
import { allowedValues, flagNames, flagSpecs, isFlagName, parseFlagValue } from "./flag-specs.js";
import { escapeHtml, parsePageRequest, refuseMethod, sendHtml, sendJson, sendText } from "./http-util.js";

/** One row of the JSON form. */
export interface FlagJson {
  readonly name: string;
  readonly value: boolean | number;
  readonly default: boolean | number;
  readonly description: string;
  /** Changeable through `?setvalue=`. */
  readonly live: boolean;
  /** What a change affects, or why it is refused. */
  readonly note: string;
  /** The values it accepts, e.g. "an integer from 1 to 1024". */
  readonly allowed: string;
}

/** The flags whose values the page shows and sets (the package's process-wide `flags` by default). */
export function flagsHandler(target: RaftFlags = flags) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (refuseMethod(req, res)) return;
    const request = parsePageRequest(req, "/flags");
    if (request === undefined) return sendText(res, 400, "bad percent-encoding in the path\n");
    const names = select(request.rest);
    if (names.length === 0) return sendText(res, 404, `no flag matches ${request.rest}\n`);
    const setvalue = request.query.get("setvalue");
    if (setvalue !== null) return setFlag(res, target, request.rest, setvalue);
    const rows = names.map((name) => rowOf(name, target));
    if (request.json) return sendJson(res, 200, { flags: rows });
    if (wantsHtml(req)) return sendHtml(res, 200, renderHtml(rows));
    sendText(res, 200, renderText(rows));
  };
}

/** The flags named by the path: all, a comma list, or `prefix*` patterns (brpc's forms). */
function select(rest: string): (keyof RaftFlags)[] {
  if (rest === "") return flagNames;
  const patterns = rest.split(",").filter((p) => p !== "");
  return flagNames.filter((name) =>
    patterns.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p)),
  );
}

function setFlag(res: ServerResponse, target: RaftFlags, name: string, text: string): void {
  if (!isFlagName(name)) return sendText(res, 404, `no flag ${name}\n`);
  const spec = flagSpecs[name];
  if (!spec.live) return sendText(res, 403, `${name} cannot be changed at run time: ${spec.note}\n`);
  let value: boolean | number;
  try {
    value = parseFlagValue(name, text);
  } catch (error) {
    return sendText(res, 400, `${RaftError.is(error) ? error.message : String(error)}\n`);
  }
  (target as unknown as Record<string, boolean | number>)[name] = value;
  sendText(res, 200, `set ${name} to ${String(value)}; affects ${spec.note}\n`);
}

function rowOf(name: keyof RaftFlags, target: RaftFlags): FlagJson {
  const spec = flagSpecs[name];
  return {
    name,
    value: target[name],
    default: defaultFlags[name],
    description: spec.description,
    live: spec.live,
    note: spec.note,
    allowed: allowedValues(name),
  };
}

/** brpc answers browsers with HTML and tools (curl) with text. */
function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

function renderText(rows: readonly FlagJson[]): string {
  const lines = rows.map((r) => {
    const changed = r.value === r.default ? "" : " (changed)";
    const live = r.live ? `live: affects ${r.note}` : `fixed: ${r.note}`;
    return `${r.name} | ${String(r.value)}${changed} | default: ${String(r.default)} | ${r.description} | ${live} | allowed: ${r.allowed}`;
  });
  return `${lines.join("\n")}\n\nA change sets the process-wide value, read by nodes when they initialize: running nodes keep theirs.\n`;
}

function renderHtml(rows: readonly FlagJson[]): string {
  const body = rows
    .map((r) => {
      const name = escapeHtml(r.name);
      const value = escapeHtml(String(r.value));
      const style = r.value === r.default ? "" : ' class="changed"';
      return `<tr${style}><td>${name}</td><td>${value}</td><td>${escapeHtml(String(r.default))}</td><td>${escapeHtml(r.description)}</td><td>${escapeHtml(r.allowed)}</td><td>${r.live ? "live" : "fixed"}: ${escapeHtml(r.note)}</td></tr>`;
    })
    .join("\n");
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>flags</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.changed td:nth-child(2){font-weight:bold}</style>
</head><body><p><a href="/">dashboard</a> · <a href="/raft_stat">raft_stat</a></p><h1>flags</h1>
<p>Change a live flag with <code>/flags/&lt;name&gt;?setvalue=&lt;value&gt;</code>. A change sets the process-wide value,
which nodes read when they initialize: nodes already running keep theirs.</p>
<table><tr><th>name</th><th>value</th><th>default</th><th>description</th><th>allowed</th><th>run-time change</th></tr>
${body}
</table></body></html>
`;
}
