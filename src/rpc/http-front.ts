/**
 * HTTP on the RaftServer port, as brpc serves its builtin pages next to baidu_std. The sniffed
 * connection is handed to a node:http server that never listens itself. Routes are path
 * prefixes; `/health` is built in. The status pages of a later issue add their own routes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Serves one HTTP request; may be async. A throw answers 500. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** How long a client may take to send its request headers. */
const HEADERS_TIMEOUT_MS = 10_000;

/** The HTTP side of a RaftServer port. */
export class HttpFront {
  private readonly routes = new Map<string, HttpHandler>();
  private readonly server: Server;

  constructor(idleTimeoutMs: number) {
    this.server = createServer((req, res) => this.dispatch(req, res));
    this.server.headersTimeout = HEADERS_TIMEOUT_MS;
    this.server.requestTimeout = HEADERS_TIMEOUT_MS * 3;
    this.server.keepAliveTimeout = idleTimeoutMs > 0 ? Math.min(idleTimeoutMs, 60_000) : 60_000;
    this.routes.set("/health", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" }).end("OK\n");
    });
  }

  /** Closes the HTTP connections and the server's housekeeping timer. */
  close(): void {
    this.server.closeAllConnections();
    this.server.close(() => undefined);
  }

  /** Serves `path` and everything under `path/`; replaces an earlier route of the same path. */
  addRoute(path: string, handler: HttpHandler): void {
    this.routes.set(path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path, handler);
  }

  /** Takes over a connection whose first bytes (`initial`, already read) are HTTP. */
  accept(socket: Socket, initial: Buffer): void {
    socket.unshift(initial);
    this.server.emit("connection", socket);
    socket.resume();
  }

  /** The handler of the longest registered prefix of `pathname`. */
  private route(pathname: string): HttpHandler | undefined {
    if (!pathname.startsWith("/")) return undefined;
    for (let path = pathname; ;) {
      const handler = this.routes.get(path);
      if (handler !== undefined || path === "/") return handler;
      const slash = path.lastIndexOf("/");
      path = slash === 0 ? "/" : path.slice(0, slash);
    }
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    const handler = this.route(pathname);
    if (handler === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end(`no page at ${pathname}\n`);
      return;
    }
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      });
  }
}
