/** braft's PeerId (`ip:port:idx`) and Configuration, the public forms users pass around. */
import { RaftError } from "../core/errors.js";
import { formatPeerId, parsePeerId } from "../util/peer-text.js";
import type { PeerKey } from "../core/types.js";

/** A peer of a replication group: an endpoint plus an index telling apart nodes on one port. */
export class PeerId {
  /**
   * @param ip   host address, e.g. "127.0.0.1"
   * @param port TCP port of the RaftServer carrying the peer
   * @param idx  index among the peers sharing that endpoint (braft's idx), 0 by default
   * @param role braft's role: 0 a replica, 1 a witness
   */
  constructor(
    readonly ip: string,
    readonly port: number,
    readonly idx = 0,
    readonly role = 0,
  ) {
    if (ip.length === 0) throw new RaftError("EINVAL", "peer id needs an ip");
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new RaftError("EINVAL", `bad port ${port}`);
    if (!Number.isInteger(idx) || idx < 0) throw new RaftError("EINVAL", `bad peer index ${idx}`);
    if (role !== 0 && role !== 1) throw new RaftError("EINVAL", `bad peer role ${role}`);
  }

  /** Parses `ip:port[:idx[:role]]`, braft's textual form. */
  static parse(text: string): PeerId {
    const parsed = parsePeerId(text.trim());
    if (parsed === undefined) throw new RaftError("EINVAL", `bad peer id "${text}"`);
    return new PeerId(parsed.host, parsed.port, parsed.idx, parsed.role);
  }

  /** Accepts a PeerId or its text. */
  static from(value: PeerId | string): PeerId {
    return typeof value === "string" ? PeerId.parse(value) : value;
  }

  /** The `ip:port` endpoint. */
  get endpoint(): string {
    return `${this.ip}:${this.port}`;
  }

  /** `ip:port:idx`, with `:1` appended for a witness (the canonical form on the wire). */
  toString(): PeerKey {
    return formatPeerId({ host: this.ip, port: this.port, idx: this.idx, role: this.role });
  }

  equals(other: PeerId | string): boolean {
    return this.toString() === PeerId.from(other).toString();
  }
}

/** braft's ANY_PEER: "any follower will do", for transferLeadershipTo. */
export const ANY_PEER = new PeerId("0.0.0.0", 0, 0);

/** A set of peers (braft's Configuration), plus learners beyond braft. */
export class Configuration {
  readonly peers: readonly PeerId[];
  readonly learners: readonly PeerId[];

  constructor(peers: Iterable<PeerId | string> = [], learners: Iterable<PeerId | string> = []) {
    this.peers = uniquePeers(peers);
    this.learners = uniquePeers(learners);
  }

  /** Parses `a:1:0,b:2:0` (braft's form); learners may follow as `/learner` suffixes: `c:3:0/learner`. */
  static parse(text: string): Configuration {
    const peers: string[] = [];
    const learners: string[] = [];
    for (const item of text.split(",").map((s) => s.trim())) {
      if (item === "") continue;
      if (item.endsWith("/learner")) learners.push(item.slice(0, -"/learner".length));
      else peers.push(item);
    }
    return new Configuration(peers, learners);
  }

  static from(value: Configuration | string | readonly (PeerId | string)[]): Configuration {
    if (value instanceof Configuration) return value;
    return typeof value === "string" ? Configuration.parse(value) : new Configuration(value);
  }

  isEmpty(): boolean {
    return this.peers.length === 0;
  }

  contains(peer: PeerId | string): boolean {
    const key = PeerId.from(peer).toString();
    return this.peers.some((p) => p.toString() === key);
  }

  /** The peers as canonical strings, sorted. */
  peerKeys(): PeerKey[] {
    return this.peers.map(String).sort();
  }

  learnerKeys(): PeerKey[] {
    return this.learners.map(String).sort();
  }

  equals(other: Configuration): boolean {
    return this.toString() === other.toString();
  }

  toString(): string {
    return [...this.peerKeys(), ...this.learnerKeys().map((l) => `${l}/learner`)].join(",");
  }
}

function uniquePeers(peers: Iterable<PeerId | string>): PeerId[] {
  const byKey = new Map<string, PeerId>();
  for (const peer of peers) {
    const id = PeerId.from(peer);
    byKey.set(id.toString(), id);
  }
  return [...byKey.values()].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
}
