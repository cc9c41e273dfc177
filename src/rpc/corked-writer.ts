/**
 * Coalesces the frames written during one event-loop turn into one writev: the socket is corked
 * at the first write and uncorked in the turn's check phase (one setImmediate for every writer
 * corked in the turn, not one per writer), after every timer and every read of the turn has run. Under load many frames (and all the parts of each frame) leave
 * in one syscall instead of one per buffer, and the heartbeats of many groups whose timers fire
 * together share one. The cost is nothing: the check phase follows before the loop can block,
 * and a deliberate block (an inline fsync) first uncorks every writer (see before-blocking.ts).
 */
import type { Socket } from "node:net";
import type { TrafficCounter } from "../env/metrics.js";
import { onBeforeBlocking } from "../env/before-blocking.js";

/** The writers corked in this turn, so a block of the loop can send their frames first. */
const corkedWriters = new Set<CorkedWriter>();
let flushScheduled = false;

function flushCorked(): void {
  for (const writer of corkedWriters) writer.flush();
}

/** The check phase of a turn in which some writer corked. */
function flushAtEndOfTurn(): void {
  flushScheduled = false;
  flushCorked();
}

// A block flushes at once; the check phase that was scheduled stays, for frames written after it.
onBeforeBlocking(flushCorked);

/** Writes frames to one socket, one writev per event-loop turn. */
export class CorkedWriter {
  private corked = false;

  /** @param traffic counts the bytes written (one addition per buffer, none per message). */
  constructor(
    private readonly socket: Socket,
    private readonly traffic?: TrafficCounter,
  ) {}

  /** Queues the parts of one frame. Dropped silently on a destroyed socket (its calls fail elsewhere). */
  write(parts: readonly Uint8Array[]): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      corkedWriters.add(this);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flushAtEndOfTurn);
      }
    }
    const traffic = this.traffic;
    for (const part of parts) {
      if (part.length === 0) continue;
      this.socket.write(part);
      if (traffic !== undefined) traffic.bytesOut += part.length;
    }
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  /** Hands what this turn queued to the kernel now (one writev); later writes cork again. */
  flush(): void {
    if (!this.corked) return;
    this.corked = false;
    corkedWriters.delete(this);
    this.socket.uncork();
  }
}
