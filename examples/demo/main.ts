/**
 * The demo cluster: three tsraft nodes on loopback, each behind its own RaftServer (braft's wire
 * protocol), replicating a counter to local:// storage under ./data. It applies one increment a
 * second through whichever node leads and prints what the group agreed on. Run it again and the
 * counter continues where it stopped: the state is rebuilt from the log on disk.
 *
 *   npm start                      # until Ctrl-C
 *   npm start -- --ops 5           # stop after 5 increments
 */
import { parseArgs } from "node:util";
import { RaftNode, RaftServer, type Iterator, type StateMachine } from "../../src/index.js";

const { values } = parseArgs({
  options: {
    ops: { type: "string" },
    "base-port": { type: "string", default: "8100" },
    data: { type: "string", default: "./data/demo" },
    "interval-ms": { type: "string", default: "1000" },
  },
});

/** A 64-bit counter; each entry holds a big-endian increment. */
class Counter implements StateMachine {
  value = 0n;
  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.value += new DataView(entry.data.buffer, entry.data.byteOffset, 8).getBigInt64(0);
      entry.done?.setResult?.(this.value);
    }
  }
}

interface Member {
  readonly server: RaftServer;
  readonly node: RaftNode;
  readonly fsm: Counter;
}

const basePort = Number(values["base-port"]);
const peers = [0, 1, 2].map((i) => `127.0.0.1:${basePort + i}:0`);

async function startMember(peer: string): Promise<Member> {
  const port = Number(peer.split(":")[1]);
  const server = new RaftServer();
  await server.start(`127.0.0.1:${port}`);
  const fsm = new Counter();
  const node = new RaftNode("demo", peer);
  await node.init({
    fsm,
    server,
    initialConf: peers.join(","),
    logUri: `local://${values.data}/${port}/log`,
    raftMetaUri: `local://${values.data}/${port}/raft_meta`,
  });
  return { server, node, fsm };
}

function increment(): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigInt64(0, 1n);
  return data;
}

async function main(): Promise<void> {
  const members = await Promise.all(peers.map(startMember));
  console.log(`tsraft demo: group "demo" on ${peers.join(", ")}, data under ${values.data}`);
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.node.shutdown()));
    await Promise.all(members.map((m) => m.server.stop()));
  };
  let stopping = false;
  process.once("SIGINT", () => {
    stopping = true;
  });
  const opsLimit = values.ops === undefined ? Number.POSITIVE_INFINITY : Number(values.ops);
  const intervalMs = Number(values["interval-ms"]);
  let done = 0;
  while (!stopping && done < opsLimit) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const leader = members.find((m) => m.node.isLeader());
    if (leader === undefined) {
      console.log("no leader yet");
      continue;
    }
    try {
      const result = await leader.node.apply(increment());
      done++;
      const applied = members.map((m) => m.fsm.value).join("/");
      console.log(
        `leader=${leader.node.peerId.toString()} term=${leader.node.term} index=${result.index} counter=${String(result.result)} replicas=${applied}`,
      );
    } catch (error) {
      console.log(`apply failed: ${String(error)}`);
    }
  }
  await stop();
  console.log("stopped cleanly");
}

await main();
