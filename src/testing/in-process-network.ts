/**
 * An in-process network: RaftHosts that call each other's RaftServices directly, so a whole
 * cluster runs in one process on real time (for quick tests and examples). Requests and answers
 * still cross an asynchronous boundary, and a peer can be isolated to emulate a partition.
 */
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";
import type { RaftClient, RaftHost, RaftService } from "../node/ports.js";

export class InProcessNetwork {
  private readonly services = new Map<string, RaftService>();
  private readonly isolated = new Set<string>();

  /** The RaftHost of the process listening at `endpoint` (`ip:port`). */
  host(endpoint: string): RaftHost {
    return new InProcessHost(this, endpoint);
  }

  /** Cuts every link to and from `endpoint` until `heal()`. */
  isolate(endpoint: string): void {
    this.isolated.add(endpoint);
  }

  heal(): void {
    this.isolated.clear();
  }

  /** @internal */
  register(groupId: string, peerId: PeerKey, service: RaftService): void {
    const key = `${groupId}/${peerId}`;
    if (this.services.has(key))
      throw new RaftError("EEXIST", `${peerId} of group ${groupId} is already registered`);
    this.services.set(key, service);
  }

  /** @internal */
  unregister(groupId: string, peerId: PeerKey): void {
    this.services.delete(`${groupId}/${peerId}`);
  }

  /** @internal Calls `method` on the service of (groupId, to), as seen from `fromEndpoint`. */
  async call<R>(
    fromEndpoint: string,
    to: PeerKey,
    groupId: string,
    timeoutMs: number,
    invoke: (s: RaftService) => Promise<R>,
  ): Promise<R> {
    await Promise.resolve();
    const toEndpoint = to.split(":").slice(0, 2).join(":");
    if (this.isolated.has(fromEndpoint) || this.isolated.has(toEndpoint)) {
      return timeout(timeoutMs, `${to} is unreachable`);
    }
    const service = this.services.get(`${groupId}/${to}`);
    if (service === undefined) throw new RaftError("EHOSTUNREACH", `no node ${to} in group ${groupId}`);
    return invoke(service);
  }
}

function timeout(ms: number, text: string): Promise<never> {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new RaftError("ERAFTTIMEDOUT", text)), ms).unref(),
  );
}

class InProcessHost implements RaftHost {
  readonly client: RaftClient;

  constructor(
    private readonly network: InProcessNetwork,
    endpoint: string,
  ) {
    const call = <R>(
      to: PeerKey,
      groupId: string,
      ms: number,
      invoke: (s: RaftService) => Promise<R>,
    ): Promise<R> => network.call(endpoint, to, groupId, ms, invoke);
    this.client = {
      requestVote: (to, request, ms) => call(to, request.groupId, ms, (s) => s.requestVote(request)),
      appendEntries: (to, request, ms) => call(to, request.groupId, ms, (s) => s.appendEntries(request)),
      timeoutNow: (to, request, ms) => call(to, request.groupId, ms, (s) => s.timeoutNow(request)),
      readIndex: (to, request, ms) =>
        call(to, request.groupId, ms, (s) =>
          s.readIndex === undefined
            ? Promise.reject(new RaftError("ENOSYS", "read_index is not served"))
            : s.readIndex(request),
        ),
    };
  }

  registerNode(groupId: string, peerId: PeerKey, service: RaftService): void {
    this.network.register(groupId, peerId, service);
  }

  unregisterNode(groupId: string, peerId: PeerKey): void {
    this.network.unregister(groupId, peerId);
  }
}
