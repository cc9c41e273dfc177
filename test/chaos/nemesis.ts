/**
 * Faults for the chaos run, one at a time: each `inject` breaks something and returns the `heal`
 * that undoes it. Choices come from the run's seeded Prng; timing (process scheduling, TCP) does
 * not, so a seed reproduces the sequence of faults, not the exact interleaving.
 */
import type { FaultProxy } from "../../src/testing/fault-proxy.js";
import type { Prng } from "../../src/testing/prng.js";
import { waitFor, type AtomicCluster } from "./atomic-cluster.js";

export interface NemesisContext {
  readonly cluster: AtomicCluster;
  readonly proxy: FaultProxy;
  readonly prng: Prng;
  readonly log: (line: string) => void;
}

export interface Nemesis {
  readonly name: string;
  /** Injects the fault; resolves with what heals it. */
  inject(ctx: NemesisContext): Promise<() => Promise<void>>;
}

const endpoint = (port: number): string => `127.0.0.1:${port}`;

function shuffle<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The leader if one is known within a short wait, else a random node. */
async function leaderOrAny(ctx: NemesisContext): Promise<number> {
  const leader = await ctx.cluster.waitForLeader(3000).catch(() => undefined);
  return leader ?? ctx.prng.pick(ctx.cluster.running());
}

const killNine: Nemesis = {
  name: "kill-9",
  async inject(ctx) {
    const victim = ctx.prng.chance(0.5) ? await leaderOrAny(ctx) : ctx.prng.pick(ctx.cluster.running());
    ctx.log(`kill -9 ${victim}`);
    await ctx.cluster.kill(victim);
    return async () => {
      ctx.log(`restart ${victim}`);
      await ctx.cluster.start(victim);
    };
  },
};

const pause: Nemesis = {
  name: "sigstop",
  async inject(ctx) {
    const victim = ctx.prng.chance(0.5) ? await leaderOrAny(ctx) : ctx.prng.pick(ctx.cluster.running());
    ctx.log(`SIGSTOP ${victim}`);
    ctx.cluster.pause(victim);
    return async () => {
      ctx.log(`SIGCONT ${victim}`);
      ctx.cluster.resume(victim);
    };
  },
};

const healLinks =
  (ctx: NemesisContext): (() => Promise<void>) =>
  async () => {
    const reset = ctx.prng.chance(0.5);
    ctx.log(`heal network (${reset ? "reset connections" : "resume stalled connections"})`);
    ctx.proxy.healAll({ reset });
  };

const partitionHalves: Nemesis = {
  name: "partition-halves",
  async inject(ctx) {
    const ports = shuffle(ctx.prng, ctx.cluster.ports);
    const cut = ctx.prng.int(1, Math.floor(ports.length / 2));
    const minority = ports.slice(0, cut);
    const majority = ports.slice(cut);
    ctx.log(`partition [${minority.join(" ")}] | [${majority.join(" ")}]`);
    ctx.proxy.partition(minority.map(endpoint), majority.map(endpoint));
    return healLinks(ctx);
  },
};

const isolateLeader: Nemesis = {
  name: "isolate-leader",
  async inject(ctx) {
    const leader = await leaderOrAny(ctx);
    const others = ctx.cluster.ports.filter((port) => port !== leader);
    ctx.log(`isolate leader ${leader}`);
    ctx.proxy.partition([endpoint(leader)], others.map(endpoint));
    return healLinks(ctx);
  },
};

const oneWay: Nemesis = {
  name: "one-way",
  async inject(ctx) {
    const { ports } = ctx.cluster;
    const kind = ctx.prng.int(0, 2);
    const leader = await leaderOrAny(ctx);
    const others = ports.filter((port) => port !== leader);
    if (kind === 0) {
      // The leader can hear everyone but reach nobody: its heartbeats are lost.
      ctx.log(`one-way: leader ${leader} cannot send`);
      for (const other of others) ctx.proxy.cut(endpoint(leader), endpoint(other));
    } else if (kind === 1) {
      // Nobody reaches the leader, which still reaches everyone.
      ctx.log(`one-way: nobody can send to leader ${leader}`);
      for (const other of others) ctx.proxy.cut(endpoint(other), endpoint(leader));
    } else {
      const links = shuffle(
        ctx.prng,
        ports.flatMap((from) => ports.filter((to) => to !== from).map((to) => [from, to] as const)),
      ).slice(0, ctx.prng.int(3, 8));
      ctx.log(`one-way: random cuts ${links.map(([a, b]) => `${a}>${b}`).join(" ")}`);
      for (const [from, to] of links) ctx.proxy.cut(endpoint(from), endpoint(to));
    }
    return healLinks(ctx);
  },
};

const slowLinks: Nemesis = {
  name: "slow-links",
  async inject(ctx) {
    const { ports } = ctx.cluster;
    const delayMs = ctx.prng.int(20, 300);
    const victims = shuffle(ctx.prng, ports).slice(0, ctx.prng.int(1, ports.length));
    ctx.log(`delay ${delayMs} ms on every link of ${victims.join(" ")}`);
    for (const a of victims) {
      for (const b of ports) {
        if (a === b) continue;
        ctx.proxy.link(endpoint(a), endpoint(b)).setDelay(delayMs);
        ctx.proxy.link(endpoint(b), endpoint(a)).setDelay(delayMs);
      }
    }
    return healLinks(ctx);
  },
};

/** Asks the leader to run a membership call, retrying through elections until the deadline. */
async function onLeader(
  ctx: NemesisContext,
  method: string,
  arg: string,
  timeoutMs: number,
): Promise<boolean> {
  try {
    await waitFor(
      `${method} ${arg}`,
      async () => {
        const leader = await ctx.cluster.leader();
        if (leader === undefined) return undefined;
        const reply = (await ctx.cluster.admin(leader, method, arg, 5000)) as { ok: boolean; code?: string };
        if (reply.ok) return true;
        // Adding a present peer or removing an absent one: done already.
        if (reply.code === "EINVAL" || reply.code === "EEXIST") return true;
        return undefined;
      },
      timeoutMs,
    );
    return true;
  } catch {
    return false;
  }
}

const membership: Nemesis = {
  name: "membership",
  async inject(ctx) {
    const victim = ctx.prng.pick(ctx.cluster.ports);
    const peer = ctx.cluster.peerOf(victim);
    ctx.log(`remove_peer ${peer}`);
    const removed = await onLeader(ctx, "remove_peer", peer, 10_000);
    ctx.log(`remove_peer ${peer}: ${removed ? "done" : "gave up"}`);
    return async () => {
      ctx.log(`add_peer ${peer}`);
      const added = await onLeader(ctx, "add_peer", peer, 20_000);
      ctx.log(`add_peer ${peer}: ${added ? "done" : "gave up"}`);
    };
  },
};

const transfer: Nemesis = {
  name: "transfer-leader",
  async inject(ctx) {
    const leader = await ctx.cluster.waitForLeader(3000).catch(() => undefined);
    if (leader !== undefined) {
      const target = ctx.prng.pick(ctx.cluster.ports.filter((port) => port !== leader));
      ctx.log(`transfer_leader ${leader} -> ${target}`);
      const reply = (await ctx.cluster
        .admin(leader, "transfer_leader", ctx.cluster.peerOf(target), 5000)
        .catch((error: unknown) => ({ ok: false, code: String(error) }))) as { ok: boolean; code?: string };
      ctx.log(`transfer_leader: ${reply.ok ? "done" : (reply.code ?? "failed")}`);
    }
    return async () => undefined;
  },
};

export const NEMESES: readonly Nemesis[] = [
  killNine,
  pause,
  partitionHalves,
  isolateLeader,
  oneWay,
  slowLinks,
  membership,
  transfer,
];
