/**
 * The kv example's processes for its tests: `start.js` (the three-node command) and single
 * `server.js` nodes, with their output lines; plain-fetch calls to the HTTP API. Waits poll with
 * deadlines (waitFor), never sleep.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { exited, waitFor } from "./counter-cluster.js";

export const KV_START = join(process.cwd(), "dist", "examples", "kv", "start.js");
export const KV_SERVER = join(process.cwd(), "dist", "examples", "kv", "server.js");

/** A child process and every line it printed (stdout and stderr). */
export class Proc {
  readonly lines: string[] = [];

  constructor(readonly child: ChildProcess) {
    for (const stream of [child.stdout, child.stderr]) {
      if (stream !== null) createInterface({ input: stream }).on("line", (line) => this.lines.push(line));
    }
  }

  static spawn(script: string, args: readonly string[]): Proc {
    return new Proc(spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] }));
  }

  /** The first captured group of the first line matching `pattern`, once one is printed. */
  waitForLine(pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    return waitFor(
      `a line matching ${pattern.source}`,
      () => {
        if (this.child.exitCode !== null) throw new Error("exited");
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match !== null) return match[1] ?? match[0];
        }
        return undefined;
      },
      timeoutMs,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.lines.join("\n")}`);
    });
  }

  /** Sends `signal` unless it has exited; resolves with its exit code or signal. */
  stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | string> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return exited(this.child);
  }
}

/** One node as start.js's banner names it. */
export interface BannerNode {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly dataDir: string;
}

/** Parses start.js's banner lines `[kv] n1 http://ip:port pid=N restart: node ... --data-dir=D`. */
export function parseBanner(lines: readonly string[]): BannerNode[] {
  return lines.flatMap((line) => {
    const match = /^\[kv\] (n\d) (http:\/\/\S+) pid=(\d+) restart: .* --data-dir=(\S+)$/.exec(line);
    if (match === null) return [];
    return [{ name: match[1] ?? "", url: match[2] ?? "", pid: Number(match[3]), dataDir: match[4] ?? "" }];
  });
}

export interface Members {
  readonly self: string;
  readonly leader: string | null;
  readonly peers: string[];
}

export async function getMembers(url: string): Promise<Members> {
  const response = await fetch(`${url}/members`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`GET /members: ${response.status}`);
  return (await response.json()) as Members;
}

/** `http://ip:port` of a peer id. */
export function urlOf(peer: string): string {
  const [ip, port] = peer.split(":");
  return `http://${ip ?? ""}:${port ?? ""}`;
}

/** The URL of the leader as `url`'s node knows it, once it knows one among `expected` peers. */
export function waitForLeader(url: string, expectedPeers: number, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    `a leader with ${expectedPeers} peers seen from ${url}`,
    async () => {
      const members = await getMembers(url);
      if (members.leader === null || members.peers.length !== expectedPeers) return undefined;
      const fromLeader = await getMembers(urlOf(members.leader));
      return fromLeader.self === fromLeader.leader ? urlOf(members.leader) : undefined;
    },
    timeoutMs,
  );
}

export interface WriteAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: { index?: number; previous?: string | null; error?: string; outcome?: string };
}

/** PUT (value given) or DELETE of `key` through `url`; fetch follows a 307 to the leader. */
export async function write(
  url: string,
  key: string,
  value: string | undefined,
  options: { requestId?: string; redirect?: "follow" | "manual" } = {},
): Promise<WriteAnswer> {
  const response = await fetch(`${url}/kv/${encodeURIComponent(key)}`, {
    method: value === undefined ? "DELETE" : "PUT",
    ...(value === undefined ? {} : { body: value }),
    headers: options.requestId === undefined ? {} : { "idempotency-key": options.requestId },
    redirect: options.redirect ?? "follow",
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : JSON.parse(text) };
}

/** GET of `key`: the value, or undefined on 404. Throws on any other answer. */
export async function read(url: string, key: string, stale = false): Promise<string | undefined> {
  const response = await fetch(`${url}/kv/${encodeURIComponent(key)}${stale ? "?stale=1" : ""}`, {
    signal: AbortSignal.timeout(5000),
  });
  const text = await response.text();
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${key}: ${response.status} ${text}`);
  return text;
}

/** Retries a write (same request id, so at most one applies) until it answers 200. */
export function writeUntilOk(
  urls: readonly string[],
  key: string,
  value: string,
  requestId: string,
): Promise<WriteAnswer> {
  let attempt = 0;
  return waitFor(`PUT ${key}=${value}`, async () => {
    const url = urls[attempt++ % urls.length] ?? "";
    const answer = await write(url, key, value, { requestId });
    return answer.status === 200 ? answer : undefined;
  });
}
