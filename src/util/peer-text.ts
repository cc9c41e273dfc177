/**
 * The text forms of braft's PeerId and of endpoints, as the wire, the disk and the command line
 * carry them. braft writes `ip:port:idx` (newer versions `ip:port:idx:role`); the core keys peers
 * by the canonical `ip:port:idx` and never parses one (a PeerKey is opaque to it). Parsing here
 * accepts every form braft accepts (2 to 4 fields) so a braft peer's ids route to the right node.
 * The public PeerId class (src/node/peer-id.ts) is built on these.
 */
import { RaftError } from "../core/errors.js";
import type { PeerKey } from "../core/types.js";

/** A parsed PeerId. `role` is braft's Role: 0 replica, 1 witness. */
export interface ParsedPeerId {
  readonly host: string;
  readonly port: number;
  readonly idx: number;
  readonly role: number;
}

const MAX_PORT = 65535;

function parseUint(text: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= max ? value : undefined;
}

/** Parses `ip:port[:idx[:role]]`; undefined when malformed (braft's parse() returning -1). */
export function parsePeerId(text: string): ParsedPeerId | undefined {
  const parts = text.split(":");
  if (parts.length < 2 || parts.length > 4) return undefined;
  const [host = "", portText = "", idxText = "0", roleText = "0"] = parts;
  const port = parseUint(portText, MAX_PORT);
  const idx = parseUint(idxText, 0x7fffffff);
  const role = parseUint(roleText, 1);
  if (host === "" || port === undefined || idx === undefined || role === undefined) return undefined;
  return { host, port, idx, role };
}

/**
 * The canonical key of a PeerId string: `ip:port:idx`, plus `:1` for a witness so the role is
 * not lost. Throws EINVAL for a malformed id.
 */
export function canonicalPeerKey(text: string): PeerKey {
  const peer = parsePeerId(text);
  if (peer === undefined) throw new RaftError("EINVAL", `invalid PeerId "${text}"`);
  return formatPeerId(peer);
}

/** Formats a parsed PeerId the way {@link canonicalPeerKey} does. */
export function formatPeerId(peer: ParsedPeerId): PeerKey {
  const base = `${peer.host}:${peer.port}:${peer.idx}`;
  return interned(peer.role === 0 ? base : `${base}:${peer.role}`);
}

/*
 * One instance of each canonical PeerId text per process. Every node keeps its own and its
 * peers' ids in its configuration, its progress and its replicators, each one built by a
 * template: a heap snapshot at 1,000 idle groups held 7-8 copies of peer ids per node. Sharing
 * them took the V8 heap of an idle group from 17.7 to 17.2 KiB (bench/group-memory.ts, 200 and
 * 1,000 groups). Bounded, so that ids from a misbehaving peer cannot grow it without end.
 */
const PEER_TEXT_CACHE_MAX = 4096;
const internedPeers = new Map<string, string>();

function interned(text: string): string {
  return internedPeers.get(text) ?? remember(internedPeers, text, text);
}

/** Caches `value` under `key`, starting over once the cache holds PEER_TEXT_CACHE_MAX texts. */
function remember(cache: Map<string, string>, key: string, value: string): string {
  if (cache.size >= PEER_TEXT_CACHE_MAX) cache.clear();
  cache.set(key, value);
  return value;
}

/** braft's empty PeerId as older braft writes it (newer braft appends `:0`); "no peer" on disk. */
export const EMPTY_PEER_TEXT = "0.0.0.0:0:0";

/** The canonical keys of PeerId strings read from braft's bytes; throws EINVAL for a malformed one. */
export function canonicalPeerKeys(texts: readonly string[]): PeerKey[] {
  return texts.map(canonicalPeerKey);
}

/**
 * A vote or leader read from braft's bytes: "" for braft's empty PeerId (`0.0.0.0:0:0[:0]`,
 * which braft writes for "none") and for "", else the canonical key.
 */
export function canonicalOptionalPeer(text: string): PeerKey | "" {
  if (text === "") return "";
  const peer = parsePeerId(text);
  if (peer === undefined) throw new RaftError("EINVAL", `invalid PeerId "${text}"`);
  return peer.host === "0.0.0.0" && peer.port === 0 && peer.idx === 0 ? "" : formatPeerId(peer);
}

/** The key a node registers under: `ip:port:idx` without the role, so both forms route alike. */
export function routingKey(peer: ParsedPeerId): string {
  return `${peer.host}:${peer.port}:${peer.idx}`;
}

/*
 * A process sees a handful of PeerId texts, and looks up the endpoint of one for every quiet
 * group it registers or wakes: with 10,000 groups, parsing them again and again showed in
 * profiles. Bounded, so that ids from a misbehaving peer cannot grow it without end.
 */
const endpoints = new Map<string, string>();

/** The `ip:port` endpoint of a PeerId; the one TCP connection to it serves every group. */
export function endpointOfPeer(text: string): string {
  const cached = endpoints.get(text);
  if (cached !== undefined) return cached;
  const peer = parsePeerId(text);
  if (peer === undefined) throw new RaftError("EINVAL", `invalid PeerId "${text}"`);
  return remember(endpoints, text, `${peer.host}:${peer.port}`);
}

/** Splits `host:port` (or `[v6]:port`) for net.connect. */
export function splitEndpoint(endpoint: string): { host: string; port: number } {
  const colon = endpoint.lastIndexOf(":");
  const port = parseUint(endpoint.slice(colon + 1), MAX_PORT);
  let host = endpoint.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (colon <= 0 || port === undefined || host === "") {
    throw new RaftError("EINVAL", `invalid endpoint "${endpoint}"`);
  }
  return { host, port };
}
