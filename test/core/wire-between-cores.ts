/**
 * What a transport does between two cores in the core's test benches: an outbound request
 * becomes the peer's inbound request, and the peer's reply becomes the asker's response, each
 * kind by its own case so the types check it (no casts).
 */
import type { Ready } from "../../src/core/events.js";
import type {
  InboundRequest,
  OutboundRequest,
  PeerResponse,
  SnapshotMetaData,
} from "../../src/core/messages.js";

/** The snapshot a leader's shell attaches to an install request. */
export interface AttachedSnapshot {
  readonly meta: SnapshotMetaData;
  readonly uri: string;
}

/** The request the peer receives; undefined for an install when the shell has no snapshot. */
export function inboundOf(message: OutboundRequest, snapshot?: AttachedSnapshot): InboundRequest | undefined {
  switch (message.kind) {
    case "vote":
      return { kind: "vote", request: message.request };
    case "append":
      return { kind: "append", request: message.request };
    case "timeoutNow":
      return { kind: "timeoutNow", request: message.request };
    case "installSnapshot":
      if (snapshot === undefined) return undefined;
      return { kind: "installSnapshot", request: { ...message.request, ...snapshot } };
  }
}

/** A reply as the asking core receives it; an install's answer names the snapshot it sent. */
export function peerResponseOf(
  reply: Exclude<Ready["replies"][number], { kind: "error" }>,
  request: InboundRequest,
): PeerResponse {
  switch (reply.kind) {
    case "vote":
    case "append":
    case "timeoutNow":
      return reply;
    case "installSnapshot": {
      const lastIncludedIndex =
        request.kind === "installSnapshot" ? request.request.meta.lastIncludedIndex : 0;
      return { kind: "installSnapshot", response: { ...reply.response, lastIncludedIndex } };
    }
  }
}
