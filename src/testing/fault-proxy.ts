/**
 * A fault-injecting TCP proxy for real-process tests: one listening port per directed link A→B,
 * which A dials instead of B (through `RaftServerOptions.resolveAddress`). Each link passes,
 * delays, or blackholes its traffic independently, so a test can cut A→B while B→A still works.
 *
 * A connection on link A→B carries A's requests to B and B's answers to A, so cutting A→B
 * silences A's RPCs to B; B's own RPCs to A travel on link B→A.
 *
 * Blackholing stalls the link's connections: nothing is forwarded in either direction and new
 * connections are accepted but not connected onward, so callers time out exactly as across a
 * network partition. Healing either resumes them (bytes sent during the cut arrive late, as after
 * TCP retransmission) or resets them (`reset: true`; callers see the connection drop and redial).
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/** How a link treats its traffic. */
export interface LinkState {
  readonly blackholed: boolean;
  /** Added to every chunk in both directions; order is kept. */
  readonly delayMs: number;
}

interface Direction {
  readonly to: Socket;
  /** Chunks read while blackholed, forwarded on heal. */
  held: Buffer[];
  /** When the last scheduled chunk is written (delays never reorder). */
  lastAtMs: number;
}

class Pipe {
  upstream: Socket | undefined;
  readonly toUpstream: Direction[] = [];
  readonly toClient: Direction[] = [];
  closed = false;

  constructor(readonly client: Socket) {}

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
    this.upstream?.destroy();
  }
}

/** One directed link: its listener, its state, its connections. */
export class ProxyLink {
  private server: Server | undefined;
  private readonly pipes = new Set<Pipe>();
  private state: LinkState = { blackholed: false, delayMs: 0 };
  port = 0;

  constructor(
    readonly from: string,
    /** `host:port` the link forwards to. */
    readonly target: string,
  ) {}

  get current(): LinkState {
    return this.state;
  }

  async listen(host = "127.0.0.1"): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
    const address = server.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
  }

  blackhole(): void {
    if (this.state.blackholed) return;
    this.state = { ...this.state, blackholed: true };
    for (const pipe of this.pipes) {
      pipe.client.pause();
      pipe.upstream?.pause();
    }
  }

  /** Ends a blackhole: resumes stalled connections, or resets them with `reset`. */
  heal(options: { reset?: boolean } = {}): void {
    const wasBlackholed = this.state.blackholed;
    this.state = { ...this.state, blackholed: false };
    if (!wasBlackholed) return;
    for (const pipe of [...this.pipes]) {
      if (options.reset === true) {
        pipe.destroy();
        continue;
      }
      if (pipe.upstream === undefined) this.connectUpstream(pipe);
      else this.resume(pipe);
    }
  }

  setDelay(delayMs: number): void {
    this.state = { ...this.state, delayMs };
  }

  /** Resets every connection of the link (both ends see it drop). */
  reset(): void {
    for (const pipe of [...this.pipes]) pipe.destroy();
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) =>
      this.server === undefined ? resolve() : this.server.close(() => resolve()),
    );
  }

  private accept(client: Socket): void {
    const pipe = new Pipe(client);
    this.pipes.add(pipe);
    client.setNoDelay(true);
    client.on("error", () => pipe.destroy());
    client.on("close", () => {
      pipe.destroy();
      this.pipes.delete(pipe);
    });
    if (this.state.blackholed) {
      client.pause();
      return;
    }
    this.connectUpstream(pipe);
  }

  private connectUpstream(pipe: Pipe): void {
    if (pipe.closed) return;
    const [host, port] = splitHostPort(this.target);
    const upstream = connect({ host, port, noDelay: true });
    pipe.upstream = upstream;
    upstream.on("error", () => pipe.destroy());
    upstream.on("close", () => pipe.destroy());
    upstream.once("connect", () => {
      this.forward(pipe.client, upstream);
      this.forward(upstream, pipe.client);
      if (this.state.blackholed) upstream.pause();
      else this.resume(pipe);
    });
  }

  private resume(pipe: Pipe): void {
    pipe.client.resume();
    pipe.upstream?.resume();
  }

  /** Copies `from` to `to`, holding chunks while blackholed and delaying them when asked. */
  private forward(from: Socket, to: Socket): void {
    const direction: Direction = { to, held: [], lastAtMs: 0 };
    from.on("data", (chunk: Buffer) => {
      if (this.state.blackholed) {
        direction.held.push(chunk);
        from.pause();
        return;
      }
      for (const held of direction.held.splice(0)) this.deliver(direction, held);
      this.deliver(direction, chunk);
    });
    from.on("resume", () => {
      for (const held of direction.held.splice(0)) this.deliver(direction, held);
    });
  }

  private deliver(direction: Direction, chunk: Buffer): void {
    const delayMs = this.state.delayMs;
    if (delayMs <= 0 && direction.lastAtMs <= performance.now()) {
      direction.to.write(chunk);
      return;
    }
    const atMs = Math.max(direction.lastAtMs, performance.now() + delayMs);
    direction.lastAtMs = atMs;
    setTimeout(() => {
      if (!direction.to.destroyed) direction.to.write(chunk);
    }, atMs - performance.now());
  }
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(":");
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}

/**
 * Links between every ordered pair of endpoints (`ip:port`). `addressMap(from)` is the
 * resolveAddress table for `from`: each peer's endpoint → the local port of link from→peer.
 */
export class FaultProxy {
  private readonly links = new Map<string, ProxyLink>();

  private constructor(readonly endpoints: readonly string[]) {}

  static async start(endpoints: readonly string[], host = "127.0.0.1"): Promise<FaultProxy> {
    const proxy = new FaultProxy(endpoints);
    for (const from of endpoints) {
      for (const to of endpoints) {
        if (from === to) continue;
        const link = new ProxyLink(from, to);
        await link.listen(host);
        proxy.links.set(`${from}>${to}`, link);
      }
    }
    return proxy;
  }

  link(from: string, to: string): ProxyLink {
    const link = this.links.get(`${from}>${to}`);
    if (link === undefined) throw new Error(`no link ${from} -> ${to}`);
    return link;
  }

  /** `peer endpoint → proxy address` for the process at `from`. */
  addressMap(from: string): Map<string, string> {
    const map = new Map<string, string>();
    for (const to of this.endpoints) if (to !== from) map.set(to, `127.0.0.1:${this.link(from, to).port}`);
    return map;
  }

  /** Cuts from→to (one way). */
  cut(from: string, to: string): void {
    this.link(from, to).blackhole();
  }

  /** Cuts every link between the two sides, both ways. */
  partition(sideA: readonly string[], sideB: readonly string[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  /** Heals every link (resuming, or resetting with `reset`) and clears delays. */
  healAll(options: { reset?: boolean } = {}): void {
    for (const link of this.links.values()) {
      link.heal(options);
      link.setDelay(0);
    }
  }

  /** Links currently blackholed, as `from>to`. */
  cuts(): string[] {
    return [...this.links].filter(([, link]) => link.current.blackholed).map(([name]) => name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
