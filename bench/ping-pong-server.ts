/**
 * A bare Node TCP echo on loopback, no framing and no RPC stack: every chunk read is written
 * straight back. bench/ping-pong.ts measures the round trip against it: the real floor of one hop
 * between two Node processes on this machine. Prints READY <port> once listening.
 *
 *   node dist/bench/ping-pong-server.js
 */
import { createServer } from "node:net";

const server = createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (chunk) => socket.write(chunk));
  socket.on("error", () => undefined);
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  console.log(`READY ${typeof address === "object" && address !== null ? address.port : 0}`);
});
process.on("SIGTERM", () => process.exit(0));
