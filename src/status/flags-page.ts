/**
 * `/flags`: braft's flags with value, default and description, as brpc's /flags page lists gflags
 * (text, HTML for browsers, `?format=json`). `/flags/<name>` (or `a,b` and `raft_*`) narrows the
 * list; `POST /flags/<name>?setvalue=<v>` changes the process-wide value: 400 for a bad value,
 * 403 for a flag that is not changeable at run time (see flag-specs.ts for which and why), and
 * 403 from a peer the server does not accept changes from (loopback only by default). brpc takes
 * `setvalue` on a GET; here a GET with it is refused (405), so a link, a crawler or a page
 * prefetch never changes a flag. A value is checked by the same rules as `init()` checks
 * (src/node/validate-options.ts); each row shows them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RaftError } from "../core/errors.js";
import { defaultFlags, flags, type RaftFlags } from "../node/flags.js";
import {
  allowedValues,
  flagNames,
  flagSpecs,
  isFlagName,
  parseFlagValue,
  type FlagScope,
} from "./flag-specs.js";
import { escapeHtml, parsePageRequest, sendHtml, sendJson, sendText } from "./http-util.js";
import { isLoopbackAddress, type OperatorAccess } from "../rpc/operator-access.js";

/** One row of the JSON form. */
export interface FlagJson {
  readonly name: string;
  readonly value: boolean | number;
  readonly default: boolean | number;
  readonly description: string;
  /** Changeable through `POST ?setvalue=`. */
  readonly live: boolean;
  /**
   * Which nodes a change reaches: `later` = nodes initialized after it (running nodes keep the
   * value they started with), `none` = no node reads it, `fixed` = not changeable at run time.
   */
  readonly appliesTo: FlagScope;
  /** What a change affects, or why it is refused. */
  readonly note: string;
  /** The values it accepts, e.g. "an integer from 1 to 1024". */
  readonly allowed: string;
}

/** Who may change flags through the page. */
export interface FlagsPageOptions {
  /** The flags whose values the page shows and sets (the package's process-wide `flags` by default). */
  readonly target?: RaftFlags | undefined;
  /** Peers whose POSTs may change a flag: `loopback` (default), `any`, or `none`. */
  readonly changes?: OperatorAccess | undefined;
}

/** The `/flags` handler. */
export function flagsHandler(options: FlagsPageOptions = {}) {
  const target = options.target ?? flags;
  const changes = options.changes ?? "loopback";
  return (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? "GET";
    if (!["GET", "HEAD", "POST"].includes(method)) return refuse(res, 405, `method ${method} not allowed\n`);
    const request = parsePageRequest(req, "/flags");
    if (request === undefined) return sendText(res, 400, "bad percent-encoding in the path\n");
    const names = select(request.rest);
    if (names.length === 0) return sendText(res, 404, `no flag matches ${request.rest}\n`);
    const setvalue = request.query.get("setvalue");
    if (method === "POST") {
      if (setvalue === null)
        return sendText(res, 400, "POST /flags/<name>?setvalue=<value> changes a flag\n");
      const refusal = changeRefusal(req, changes);
      if (refusal !== undefined) return sendText(res, 403, refusal);
      return setFlag(res, target, request.rest, setvalue);
    }
    if (setvalue !== null) {
      const curl = `curl -X POST 'http://${req.headers.host ?? "<ip:port>"}${req.url ?? ""}'`;
      return refuse(res, 405, `a flag changes only by POST: ${curl}\n`);
    }
    const rows = names.map((name) => rowOf(name, target));
    if (request.json) return sendJson(res, 200, { flags: rows });
    if (wantsHtml(req)) return sendHtml(res, 200, renderHtml(rows));
    sendText(res, 200, renderText(rows));
  };
}

function refuse(res: ServerResponse, status: 405, body: string): void {
  res.writeHead(status, { allow: "GET, HEAD, POST", "content-type": "text/plain; charset=utf-8" }).end(body);
}

/**
 * Why this POST may not change a flag, or undefined. Besides the peer's address: a browser
 * sends `Origin` with a cross-site POST, and a page on another site must not be able to change
 * the flags of a server on the operator's loopback (cross-site request forgery).
 */
function changeRefusal(req: IncomingMessage, changes: OperatorAccess): string | undefined {
  const peer = req.socket.remoteAddress ?? "?";
  if (changes === "none") return "flag changes are disabled on this server (RaftServerOptions.flagChanges)\n";
  if (changes === "loopback" && !isLoopbackAddress(peer)) {
    return `flag changes are accepted from loopback only (RaftServerOptions.flagChanges), not from ${peer}\n`;
  }
  const origin = req.headers.origin;
  if (
    origin !== undefined &&
    origin !== `http://${req.headers.host ?? ""}` &&
    origin !== `https://${req.headers.host ?? ""}`
  ) {
    return `flag changes are refused from pages of another origin (${origin})\n`;
  }
  return undefined;
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
    appliesTo: spec.appliesTo,
    note: spec.note,
    allowed: allowedValues(name),
  };
}

/** brpc answers browsers with HTML and tools (curl) with text. */
function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

/** The words for a row's scope, the same on every page. */
const SCOPE_WORDS: Readonly<Record<FlagScope, string>> = {
  later: "applies to nodes started after a change",
  none: "applies to no node",
  fixed: "fixed while running",
};

/** Said on every page: the one thing an operator must know before changing a flag. */
const CHANGE_RULE =
  "A change (POST /flags/<name>?setvalue=<value>, from loopback by default) sets the process-wide value, which nodes read when they initialize: " +
  "it applies to nodes started after it, and nodes already running keep theirs (no flag changes a running node).";

function renderText(rows: readonly FlagJson[]): string {
  const lines = rows.map((r) => {
    const changed = r.value === r.default ? "" : " (changed)";
    return `${r.name} | ${String(r.value)}${changed} | default: ${String(r.default)} | ${r.description} | ${SCOPE_WORDS[r.appliesTo]}: ${r.note} | allowed: ${r.allowed}`;
  });
  return `${lines.join("\n")}\n\n${CHANGE_RULE}\n`;
}

function renderHtml(rows: readonly FlagJson[]): string {
  const body = rows
    .map((r) => {
      const name = escapeHtml(r.name);
      const value = escapeHtml(String(r.value));
      const style = r.value === r.default ? "" : ' class="changed"';
      return `<tr${style}><td>${name}</td><td>${value}</td><td>${escapeHtml(String(r.default))}</td><td>${escapeHtml(r.description)}</td><td>${escapeHtml(r.allowed)}</td><td>${SCOPE_WORDS[r.appliesTo]}: ${escapeHtml(r.note)}</td></tr>`;
    })
    .join("\n");
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>flags</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.changed td:nth-child(2){font-weight:bold}</style>
</head><body><p><a href="/">dashboard</a> · <a href="/raft_stat">raft_stat</a></p><h1>flags</h1>
<p>${escapeHtml(CHANGE_RULE)}</p>
<table><tr><th>name</th><th>value</th><th>default</th><th>description</th><th>allowed</th><th>a change</th></tr>
${body}
</table></body></html>
`;
}
