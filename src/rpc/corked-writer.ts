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

/**
 * A frame up to this size is copied into one buffer and handed to the socket in one write: a
 * small frame is three or four small parts (header, meta, message, attachment), and each write
 * of a corked socket costs a buffered request in the stream and an iovec in the writev.
 */
const COPY_BYTES_MAX = 512;

/** Writes frames to one socket, one writev per event-loop turn. */
export class CorkedWriter {
  private corked = false;

  /** @param traffic counts the bytes written (one addition per frame, none per message). */
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
    let bytes = 0;
    for (const part of parts) bytes += part.length;
    if (this.traffic !== undefined) this.traffic.bytesOut += bytes;
    if (bytes === 0) return;
    if (bytes <= COPY_BYTES_MAX) {
      // Buffer.concat takes small buffers from Node's pool.
      this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes));
      return;
    }
    for (const part of parts) if (part.length > 0) this.socket.write(part);
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
