/**
 * The ceiling of the stack: a RaftServer answering example.CounterService at once, with no raft,
 * no disk and no state machine behind it. `npm run bench` drives it with the counter client, so
 * the counter cluster's figures can be read as a fraction of what this machine and this RPC stack
 * can answer at all. Prints READY once listening; SIGTERM stops it.
 *
 *   node dist/bench/echo-server.js --port=8200
 */
import { parseArgs } from "node:util";
import { RaftServer } from "../src/index.js";
import { CounterService } from "../src/rpc/gen/example/counter_pb.js";

const { values } = parseArgs({ options: { port: { type: "string", default: "8200" } } });

const server = new RaftServer();
let value = 0n;
server.addService(CounterService, {
  fetch_add(request) {
    const before = value;
    value += request.value;
    return { success: true, value: before };
  },
  get() {
    return { success: true, value };
  },
});
await server.start(`127.0.0.1:${values.port}`);
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
console.log(`READY ${server.address}`);
