/**
 * Coalesces the frames written during one event-loop turn into one writev: the socket is corked
 * at the first write and uncorked in the turn's check phase (setImmediate), after every timer and
 * every read of the turn has run. Under load many frames (and all the parts of each frame) leave
 * in one syscall instead of one per buffer, and the heartbeats of many groups whose timers fire
 * together share one. The cost is nothing: the check phase follows before the loop can block.
 */
import type { Socket } from "node:net";

/** Writes frames to one socket, one writev per event-loop turn. */
export class CorkedWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  /** Queues the parts of one frame. Dropped silently on a destroyed socket (its calls fail elsewhere). */
  write(parts: readonly Uint8Array[]): void {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(this.uncork);
    }
    for (const part of parts) if (part.length > 0) this.socket.write(part);
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.socket.writableLength;
  }

  private readonly uncork = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}
