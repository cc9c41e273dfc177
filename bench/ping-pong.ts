/**
 * The round trip of a bare Node TCP ping-pong on loopback (bench/ping-pong-server.ts in its own
 * process, this process the client): one 64-byte message out, its echo back, then the next, for
 * a fixed time. Beside the echo of our RPC stack (bench/echo-server.ts) it shows what a hop costs
 * on this machine before any framing, codec or raft.
 */
import { spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "../test/interop/braft-bin.js";
import { exited } from "./bench-children.js";

/** Round-trip percentiles in microseconds. */
export interface PingPongFigures {
  readonly roundTrips: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

const MESSAGE_BYTES = 64;

/** Ping-pongs for `seconds` against a fresh echo process. */
export async function runPingPong(seconds: number): Promise<PingPongFigures> {
  const server = spawn(process.execPath, [join(REPO_ROOT, "dist", "bench", "ping-pong-server.js")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout?.once("data", (chunk: Buffer) =>
        resolve(Number(/READY (\d+)/.exec(chunk.toString())?.[1])),
      );
      server.once("exit", (code) => reject(new Error(`ping-pong server exited with ${code}`)));
    });
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(s));
      s.once("error", reject);
    });
    socket.setNoDelay(true);
    try {
      return summarize(await pingPong(socket, seconds));
    } finally {
      socket.destroy();
    }
  } finally {
    server.kill("SIGTERM");
    await exited(server);
  }
}

/** Sends a message, waits for all of it back, repeats until `seconds` pass; the round trips in µs. */
function pingPong(socket: Socket, seconds: number): Promise<number[]> {
  const message = Buffer.alloc(MESSAGE_BYTES, 7);
  const samples: number[] = [];
  const end = performance.now() + seconds * 1000;
  return new Promise((resolve, reject) => {
    let received = 0;
    let sentAt = 0;
    const send = (): void => {
      sentAt = performance.now();
      socket.write(message);
    };
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received < MESSAGE_BYTES) return;
      received -= MESSAGE_BYTES;
      const now = performance.now();
      samples.push((now - sentAt) * 1000);
      if (now < end) send();
      else resolve(samples);
    });
    socket.once("error", reject);
    send();
  });
}

function summarize(samples: number[]): PingPongFigures {
  // Drop the first round trips: connection and JIT warm-up.
  const steady = samples.slice(Math.min(1000, Math.floor(samples.length / 10))).sort((a, b) => a - b);
  const at = (p: number): number =>
    Math.round(steady[Math.min(steady.length - 1, Math.floor(p * steady.length))] ?? 0);
  return { roundTrips: steady.length, p50Us: at(0.5), p99Us: at(0.99) };
}
