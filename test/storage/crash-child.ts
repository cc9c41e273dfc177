/**
 * Child process of the crash tests: writes to a local:// storage in a loop and prints every write
 * that was acknowledged (resolved) until the parent kills it with SIGKILL.
 *
 *   node crash-child.js log <dir> <term>   appends pipelined batches, prints "ack <first> <last> <term>"
 *   node crash-child.js meta <dir>         saves increasing terms, prints "meta <term>"
 *   node crash-child.js node <dir> <group> <peer>
 *                                          starts a one-node group on local:// storage under <dir>,
 *                                          prints "started <pid>", then applies entries forever,
 *                                          printing "ack <index>"; if init fails, prints
 *                                          "refused <code> <message>" and exits with 3
 */
import { RaftError, RaftNode } from "../../src/index.js";
import { InProcessNetwork } from "../../src/testing/index.js";
import { LocalRaftMetaStorage } from "../../src/storage/local/local-meta-storage.js";
import { SegmentLogStorage } from "../../src/storage/local/segment-log-storage.js";
import { crashPayloadSize, dataEntries, nodeUris } from "./helpers.js";

/** Appends in flight at once: enough to exercise group commit. */
const IN_FLIGHT_MAX = 4;

async function appendForever(dir: string, term: number): Promise<never> {
  const log = new SegmentLogStorage(dir, { raft_max_segment_size: 32 * 1024 });
  await log.init(() => undefined);
  let next = log.lastLogIndex() + 1;
  const inFlight = new Set<Promise<void>>();
  for (;;) {
    const count = 1 + (next % 13);
    const batch = dataEntries(next, next + count - 1, term).map((e) => ({
      ...e,
      data: dataEntries(e.index, e.index, term, crashPayloadSize(e.index))[0]!.data,
    }));
    const first = next;
    const last = next + count - 1;
    next += count;
    const write = log.appendEntries(batch).then(() => {
      process.stdout.write(`ack ${first} ${last} ${term}\n`);
    });
    inFlight.add(write);
    void write.finally(() => inFlight.delete(write));
    if (inFlight.size >= IN_FLIGHT_MAX) await Promise.race(inFlight);
  }
}

async function saveTermsForever(dir: string): Promise<never> {
  const meta = new LocalRaftMetaStorage(dir);
  await meta.init();
  for (let term = meta.getTermAndVotedFor().term + 1; ; term++) {
    await meta.setTermAndVotedFor({ term, votedFor: `127.0.0.1:${term}:0` });
    process.stdout.write(`meta ${term}\n`);
  }
}

async function runNodeForever(dir: string, group: string, peer: string): Promise<void> {
  const node = new RaftNode(group, peer);
  try {
    await node.init({
      fsm: { onApply: (iter) => void [...iter] },
      server: new InProcessNetwork().host(peer),
      initialConf: peer,
      electionTimeoutMs: 100,
      ...nodeUris(dir),
    });
  } catch (error) {
    const code = RaftError.is(error) ? error.code : "?";
    process.stdout.write(`refused ${code} ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(3);
  }
  process.stdout.write(`started ${process.pid}\n`);
  for (;;) {
    if (!node.isLeader()) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    const { index } = await node.apply(Uint8Array.of(1));
    process.stdout.write(`ack ${index}\n`);
  }
}

const [mode, dir, term, peer] = process.argv.slice(2);
if (mode === "log" && dir !== undefined) await appendForever(dir, Number(term ?? 1));
else if (mode === "meta" && dir !== undefined) await saveTermsForever(dir);
else if (mode === "node" && dir !== undefined && term !== undefined && peer !== undefined)
  await runNodeForever(dir, term, peer);
else {
  console.error("usage: crash-child.js log|meta <dir> [term] | node <dir> <group> <peer>");
  process.exit(2);
}
