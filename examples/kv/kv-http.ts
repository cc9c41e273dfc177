/**
 * The kv example's HTTP API, served on the node's RaftServer port (the port sniffs HTTP next to
 * baidu_std), so a peer id `ip:port:0` is also the node's HTTP address:
 *
 *   GET    /kv/<key>            linearizable read (readIndex), on any node; 404 when absent
 *   GET    /kv/<key>?stale=1    this node's applied state, no round trip (may be behind)
 *   PUT    /kv/<key>            body = value; Idempotency-Key header makes a retry apply once
 *   DELETE /kv/<key>
 *   GET    /members             { self, leader, peers }
 *   POST   /members             body {"peer":"ip:port:0"}: add a voter (on the leader)
 *   DELETE /members/<peer>      remove a voter
 *   POST   /snapshot            take a snapshot on this node now
 *
 * Writes and membership changes on a follower answer 307 to the same path on the leader. Errors
 * are JSON `{ error, message, outcome, leader }`: 503 + Retry-After when nothing happened (safe to
 * retry), 504 when a write may or may not have been applied (retry only with the same
 * Idempotency-Key). See examples/kv/README.md.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { RaftError, type RaftNode, type RaftServer } from "../../src/index.js";
import {
  encodeCommand,
  type KvCommand,
  type KvStateMachine,
  type KvWriteResult,
} from "./kv-state-machine.js";

/** The largest request body accepted: a value, or a member's peer id. */
export const BODY_BYTES_MAX = 1 << 20;

/** The parts of a node the HTTP layer uses. */
export interface KvHttpContext {
  readonly server: RaftServer;
  readonly node: RaftNode;
  readonly fsm: KvStateMachine;
}

/** A failure answered with a status code and a JSON body. */
class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body["message"] ?? status));
  }
}

/** Adds the routes above to the node's RaftServer. */
export function registerKvRoutes(context: KvHttpContext): void {
  context.server.addHttpRoute("/kv", guarded(context, handleKv));
  context.server.addHttpRoute("/members", guarded(context, handleMembers));
  context.server.addHttpRoute("/snapshot", guarded(context, handleSnapshot));
}

type Handler = (context: KvHttpContext, req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

function guarded(context: KvHttpContext, handler: Handler) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (context.fsm.error !== undefined) {
        throw new HttpFailure(500, {
          error: "ERROR",
          message: `node in ERROR: ${context.fsm.error.message}`,
        });
      }
      await handler(context, req, res, url);
    } catch (error) {
      answerFailure(context, req, res, url, error);
    }
  };
}

async function handleKv(
  context: KvHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const key = decodeURIComponent(url.pathname.slice("/kv/".length));
  if (!url.pathname.startsWith("/kv/") || key === "") throw badRequest("the path is /kv/<key>");
  if (req.method === "GET") return read(context, res, key, url.searchParams.has("stale"));
  const requestId = headerOf(req, "idempotency-key");
  if (req.method === "PUT") {
    const value = await readBody(req);
    return write(context, res, { op: "put", key, value, ...(requestId === undefined ? {} : { requestId }) });
  }
  if (req.method === "DELETE") {
    return write(context, res, { op: "delete", key, ...(requestId === undefined ? {} : { requestId }) });
  }
  throw new HttpFailure(405, { error: "EINVAL", message: `${req.method ?? "?"} is not served on /kv` });
}

// #region linearizable-read
/** A linearizable read waits until this node applied everything committed before it began. */
async function read(context: KvHttpContext, res: ServerResponse, key: string, stale: boolean): Promise<void> {
  if (!stale) await context.node.readIndex();
  const value = context.fsm.data.get(key);
  if (value === undefined) throw new HttpFailure(404, { error: "ENOENT", message: `no key ${key}` });
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(value);
}
// #endregion linearizable-read

// #region write
/** Proposes the write on the leader; elsewhere the failure handler redirects. */
async function write(context: KvHttpContext, res: ServerResponse, command: KvCommand): Promise<void> {
  const { index, result } = await context.node.apply(encodeCommand(command));
  const written = result as KvWriteResult;
  sendJson(
    res,
    200,
    { index, previous: written.previous },
    written.replayed ? { "idempotent-replayed": "true" } : {},
  );
}
// #endregion write

async function handleMembers(
  context: KvHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const { node } = context;
  if (req.method === "GET" && url.pathname === "/members") return sendMembers(context, res);
  if (req.method === "POST" && url.pathname === "/members") {
    const peer = parsePeerBody(await readBody(req));
    await node.addPeer(peer);
    return sendMembers(context, res);
  }
  if (req.method === "DELETE" && url.pathname.startsWith("/members/")) {
    await node.removePeer(decodeURIComponent(url.pathname.slice("/members/".length)));
    return sendMembers(context, res);
  }
  throw new HttpFailure(405, {
    error: "EINVAL",
    message: `${req.method ?? "?"} ${url.pathname} is not served`,
  });
}

/** This node's view: its configuration (listPeers() answers only on the leader, as braft's). */
function sendMembers(context: KvHttpContext, res: ServerResponse): void {
  const { node } = context;
  const status = node.getStatus();
  sendJson(res, 200, {
    self: node.peerId.toString(),
    leader: node.leaderId()?.toString() ?? null,
    peers: [...status.peers],
  });
}

async function handleSnapshot(
  context: KvHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (req.method !== "POST") throw new HttpFailure(405, { error: "EINVAL", message: "POST /snapshot" });
  await context.node.snapshot();
  sendJson(res, 200, { lastSnapshotIndex: context.node.getStatus().lastSnapshotIndex });
}

function parsePeerBody(body: string): string {
  try {
    const peer = (JSON.parse(body) as { peer?: unknown }).peer;
    if (typeof peer === "string" && peer !== "") return peer;
  } catch {
    // not JSON: answered below
  }
  throw badRequest('the body is {"peer":"ip:port:idx"}');
}

// #region errors
/**
 * Not the leader, leader known: 307 to the same path there (fetch and curl -L resend the body).
 * Refused otherwise: 503, safe to retry. Unknown outcome: 504, retry only with the same key.
 */
function answerFailure(
  context: KvHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  error: unknown,
): void {
  if (error instanceof HttpFailure) return sendJson(res, error.status, error.body);
  if (!RaftError.is(error)) throw error;
  const leader = error.leaderId ?? context.node.leaderId()?.toString();
  const body = { error: error.code, message: error.message, outcome: error.outcome, leader: leader ?? null };
  if (error.code === "EPERM" && error.outcome === "refused" && leader !== undefined && req.method !== "GET") {
    res.setHeader("location", `http://${httpAddressOf(leader)}${url.pathname}${url.search}`);
    return sendJson(res, 307, body);
  }
  if (error.code === "EINVAL") return sendJson(res, 400, body);
  if (error.outcome === "refused") return sendJson(res, 503, body, { "retry-after": "1" });
  sendJson(res, 504, body);
}

/** `ip:port` of a peer id `ip:port:idx`: the node's RaftServer port, which also serves HTTP. */
export function httpAddressOf(peer: string): string {
  const parts = peer.split(":");
  return `${parts[0] ?? ""}:${parts[1] ?? ""}`;
}
// #endregion errors

function badRequest(message: string): HttpFailure {
  return new HttpFailure(400, { error: "EINVAL", message });
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    if (bytes > BODY_BYTES_MAX) throw new HttpFailure(413, { error: "EINVAL", message: "body too large" });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(`${JSON.stringify(body)}\n`);
}
