/** Small helpers shared by the status pages: request parsing, escaping, answers. */
import type { IncomingMessage, ServerResponse } from "node:http";

/** A request as the pages see it: the path below the page's route and the query. */
export interface PageRequest {
  /** The decoded path after the route, without leading or trailing slashes ("" for the route itself). */
  readonly rest: string;
  readonly query: URLSearchParams;
  /** `?format=json`. */
  readonly json: boolean;
}

/** Splits `req.url` below `route`; undefined when the path is not valid percent-encoding. */
export function parsePageRequest(req: IncomingMessage, route: string): PageRequest | undefined {
  const url = req.url ?? "/";
  const mark = url.indexOf("?");
  const pathname = mark < 0 ? url : url.slice(0, mark);
  const query = new URLSearchParams(mark < 0 ? "" : url.slice(mark + 1));
  let rest: string;
  try {
    rest = decodeURIComponent(pathname.slice(route.length)).replace(/^\/+|\/+$/g, "");
  } catch {
    return undefined;
  }
  return { rest, query, json: query.get("format") === "json" };
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * Status pages may be read by the dashboard of another server of the cluster (it polls every
 * server's JSON from the browser), so they allow any origin. They reveal no more than the page.
 */
const CORS = { "access-control-allow-origin": "*", "cache-control": "no-store" } as const;

export function sendText(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...CORS, "content-type": "text/plain; charset=utf-8" }).end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res
    .writeHead(status, { ...CORS, "content-type": "application/json; charset=utf-8" })
    .end(`${JSON.stringify(body)}\n`);
}

export function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { ...CORS, "content-type": "text/html; charset=utf-8" }).end(body);
}

/** Answers anything but GET and HEAD with 405. Returns true when the request was answered. */
export function refuseMethod(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method === "GET" || req.method === "HEAD") return false;
  res.writeHead(405, { ...CORS, allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
  res.end(`method ${req.method ?? "?"} not allowed\n`);
  return true;
}
