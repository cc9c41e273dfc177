import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { CorkedWriter } from "../../src/rpc/corked-writer.js";
import { runBeforeBlocking } from "../../src/env/before-blocking.js";

/** The part of a Socket CorkedWriter uses: records what reached the "kernel" (uncorked writes). */
class FakeSocket extends EventEmitter {
  destroyed = false;
  writableLength = 0;
  private corks = 0;
  private held: Uint8Array[] = [];
  readonly flushed: Uint8Array[][] = [];
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.corks--;
    if (this.corks === 0 && this.held.length > 0) this.flushed.push(this.held.splice(0));
  }
  write(part: Uint8Array): boolean {
    if (this.corks > 0) this.held.push(part);
    else this.flushed.push([part]);
    return true;
  }
}

const frame = (byte: number): Uint8Array[] => [Uint8Array.of(byte), Uint8Array.of(byte, byte)];
const nextCheckPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** The bytes of each writev, whatever buffers carried them. */
const bytesOf = (flushed: readonly Uint8Array[][]): Buffer[] => flushed.map((parts) => Buffer.concat(parts));
const bytes = (...frames: Uint8Array[][]): Buffer => Buffer.concat(frames.flat());

test("frames written in one turn leave together in the check phase, as one writev", async () => {
  const socket = new FakeSocket();
  const writer = new CorkedWriter(socket as unknown as Socket);
  writer.write(frame(1));
  writer.write(frame(2));
  assert.equal(socket.flushed.length, 0);
  await nextCheckPhase();
  assert.deepEqual(bytesOf(socket.flushed), [bytes(frame(1), frame(2))]);
});

test("a block of the loop (runBeforeBlocking) sends the corked frames first; later frames cork again", async () => {
  const socket = new FakeSocket();
  const writer = new CorkedWriter(socket as unknown as Socket);
  writer.write(frame(1));
  runBeforeBlocking();
  assert.deepEqual(bytesOf(socket.flushed), [bytes(frame(1))]);
  writer.write(frame(2));
  assert.equal(socket.flushed.length, 1);
  await nextCheckPhase();
  assert.deepEqual(bytesOf(socket.flushed), [bytes(frame(1)), bytes(frame(2))]);
});

test("a small frame goes to the socket as one buffer; a large one as its own parts, uncopied", async () => {
  const socket = new FakeSocket();
  const writer = new CorkedWriter(socket as unknown as Socket);
  const large = [Uint8Array.of(7), new Uint8Array(4096).fill(8)];
  writer.write(frame(1));
  writer.write(large);
  await nextCheckPhase();
  const [written] = socket.flushed;
  assert.equal(written?.length, 3);
  assert.deepEqual(Buffer.from(written[0]!), bytes(frame(1)));
  assert.equal(written[1], large[0]);
  assert.equal(written[2], large[1]);
});
