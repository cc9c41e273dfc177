/**
 * Client calls over the simulator: a ChannelProvider whose channels deliver requests to the
 * services of simulated nodes (a counter on the node's log, and CliService get_leader) after a
 * network delay on virtual time, and fail them as real channels would: EHOSTUNREACH (never sent)
 * to a crashed process, silence across a cut link (only a timeout or an abort ends the call).
 * Errors cross as on the wire: code and text only.
 */
import { RaftError } from "../../src/core/errors.js";
import type { CallChannel, ChannelProvider, ClientClock } from "../../src/index.js";
import type { CallOptions, CallResult } from "../../src/rpc/channel.js";
import { CliService } from "../../src/rpc/gen/braft/cli_pb.js";
import { CounterService } from "../../src/rpc/gen/example/counter_pb.js";
import { errorFromWire, errorToWire } from "../../src/rpc/rpc-errors.js";
import { ServiceRegistry, type CallContext } from "../../src/rpc/service-registry.js";
import type { SimCluster } from "../../src/testing/sim-cluster.js";

/** One call as the harness saw it. */
export interface SimCall {
  readonly atMs: number;
  readonly endpoint: string;
  readonly method: string;
}

export class SimServices implements ChannelProvider {
  /** Endpoints whose links are cut: requests and answers vanish. */
  readonly cut = new Set<string>();
  readonly calls: SimCall[] = [];
  private readonly registries = new Map<string, ServiceRegistry>();

  constructor(
    private readonly cluster: SimCluster,
    private readonly delayMs = 2,
  ) {}

  /** The client's clock: the simulation's virtual time. */
  get clock(): ClientClock {
    const scheduler = this.cluster.scheduler;
    return { nowMs: () => scheduler.nowMs, setTimer: (callback, ms) => scheduler.schedule(ms, callback) };
  }

  get(endpoint: string): CallChannel {
    return {
      call: (service, method, message, options) => this.call(endpoint, service, method, message, options),
    };
  }

  close(): void {}

  private call(
    endpoint: string,
    service: string,
    method: string,
    message: Uint8Array,
    options: CallOptions,
  ): Promise<CallResult> {
    const scheduler = this.cluster.scheduler;
    this.calls.push({ atMs: scheduler.nowMs, endpoint, method });
    return new Promise<CallResult>((resolve, reject) => {
      const what = `${service}.${method} to ${endpoint}`;
      const cancels: (() => void)[] = [];
      const settle = (finish: () => void): void => {
        for (const cancel of cancels) cancel();
        cancels.length = 0;
        finish();
      };
      if (options.timeoutMs > 0) {
        const timeoutMs = options.timeoutMs;
        const fire = (): void =>
          settle(() => reject(new RaftError("ERAFTTIMEDOUT", `${what} timed out after ${timeoutMs} ms`)));
        cancels.push(scheduler.schedule(timeoutMs, fire));
      }
      const onAbort = (): void => settle(() => reject(new RaftError("ECANCELED", `${what} aborted`)));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      cancels.push(() => options.signal?.removeEventListener("abort", onAbort));
      const peer = this.peerAt(endpoint);
      if (peer === undefined || this.cluster.process(peer).node === undefined) {
        const refused = new RaftError("EHOSTUNREACH", `connection to ${endpoint} failed`, {
          outcome: "refused",
        });
        cancels.push(scheduler.schedule(this.delayMs, () => settle(() => reject(refused))));
        return;
      }
      if (this.cut.has(endpoint)) return; // silence
      cancels.push(
        scheduler.schedule(this.delayMs, () => {
          this.serve(peer, service, method, message).then(
            (answer) => {
              if (this.cut.has(endpoint)) return;
              scheduler.schedule(this.delayMs, () => settle(() => resolve(answer)));
            },
            (error: unknown) => {
              const { code, text } = errorToWire(error);
              scheduler.schedule(this.delayMs, () => settle(() => reject(errorFromWire(code, text))));
            },
          );
        }),
      );
    });
  }

  private async serve(
    peer: string,
    service: string,
    method: string,
    message: Uint8Array,
  ): Promise<CallResult> {
    const found = this.registry(peer).lookup(service, method);
    if ("missing" in found) throw new RaftError("ENOSYS", `no ${service}.${method}`);
    const ctx = { signal: new AbortController().signal } as unknown as CallContext;
    return { message: await found.handler(message, ctx), attachment: new Uint8Array(0) };
  }

  private peerAt(endpoint: string): string | undefined {
    return this.cluster.peers.find((peer) => peer.startsWith(`${endpoint}:`));
  }

  /** braft's counter semantics on the node's log: the value is the entry's index. */
  private registry(peer: string): ServiceRegistry {
    let registry = this.registries.get(peer);
    if (registry !== undefined) return registry;
    registry = new ServiceRegistry();
    const node = () => this.cluster.node(peer);
    registry.addService(CounterService, {
      async fetch_add() {
        try {
          const applied = await node().apply(new Uint8Array([1]));
          return { success: true, value: BigInt(applied.index) };
        } catch (error) {
          if (!RaftError.is(error)) throw error;
          const leader = node().leaderId()?.toString();
          return {
            success: false,
            refused: error.outcome === "refused",
            ...(leader ? { redirect: leader } : {}),
          };
        }
      },
    });
    registry.addService(CliService, {
      get_leader: () => ({ leaderId: node().leaderId()?.toString() ?? "" }),
    });
    this.registries.set(peer, registry);
    return registry;
  }
}
