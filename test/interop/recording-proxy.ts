/**
 * A TCP proxy that forwards one port to another and keeps every byte of each connection, in
 * both directions, for cutting into baidu_std frames afterwards.
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import { decodeFrame, type DecodedFrame } from "../../src/rpc/baidu-std.js";
import { FrameParser } from "../../src/rpc/frame.js";

/** One proxied connection: what the dialing side sent, and what it got back. */
export interface Recording {
  readonly sent: Buffer[];
  readonly received: Buffer[];
}

/** A frame with its raw bytes, as it crossed the proxy. */
export interface RecordedFrame {
  readonly bytes: Buffer;
  readonly frame: DecodedFrame;
}

export class RecordingProxy {
  readonly recordings: Recording[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;

  constructor(
    readonly port: number,
    readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const recording: Recording = { sent: [], received: [] };
      this.recordings.push(recording);
      const upstream = connect(this.targetPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.on("data", (chunk: Buffer) => {
        recording.sent.push(Buffer.from(chunk));
        upstream.write(chunk);
      });
      upstream.on("data", (chunk: Buffer) => {
        recording.received.push(Buffer.from(chunk));
        client.write(chunk);
      });
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) =>
      this.server === undefined ? resolve() : this.server.close(() => resolve()),
    );
  }
}

/** Cuts one direction of a recording into frames; a torn tail (a killed peer) is left out. */
export function framesOf(chunks: readonly Buffer[]): RecordedFrame[] {
  const parser = new FrameParser();
  const frames: RecordedFrame[] = [];
  for (const raw of parser.push(Buffer.concat(chunks))) {
    const frame = decodeFrame(raw);
    // The frame's own bytes: header, meta, payload, rebuilt from the views the parser returned.
    const header = Buffer.alloc(12);
    header.write("PRPC", 0, "latin1");
    header.writeUInt32BE(raw.meta.length + raw.payload.length, 4);
    header.writeUInt32BE(raw.meta.length, 8);
    frames.push({ bytes: Buffer.concat([header, raw.meta, raw.payload]), frame });
  }
  return frames;
}
