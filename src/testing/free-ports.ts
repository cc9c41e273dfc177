/** Free loopback ports for tests and benchmarks that start real servers. */
import { createServer } from "node:net";

/** `count` distinct free ports of 127.0.0.1, found by binding port 0 and releasing it. */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
      });
    });
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}
