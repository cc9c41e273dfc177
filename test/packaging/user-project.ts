/**
 * The empty project the packaging test installs tsraft into, as a user would write it: a
 * package.json, a strict tsconfig and one program that starts a 1-node group with a small state
 * machine, applies through it and reads the result back.
 */

/** The user's program (app.ts): prints one JSON line with what it saw. */
export const USER_PROGRAM = `import { RaftError, RaftNode, RaftServer, type Iterator, type StateMachine } from "tsraft";
import { freePorts } from "tsraft/testing";

/** Adds the numbers it is sent; apply() resolves with the new total. */
class Adder implements StateMachine {
  total = 0;

  onApply(iter: Iterator): void {
    for (const entry of iter) {
      this.total += Number(new TextDecoder().decode(entry.data));
      entry.done?.setResult?.(this.total);
    }
  }
}

async function waitForLeadership(node: RaftNode): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!node.isLeader()) {
    if (Date.now() > deadline) throw new Error("no leader within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const [port] = await freePorts(1);
if (port === undefined) throw new Error("no free port");
const server = new RaftServer();
await server.start(port);
const adder = new Adder();
const node = new RaftNode("adder", \`\${server.address}:0\`);
await node.init({
  fsm: adder,
  server,
  initialConf: \`\${server.address}:0\`,
  electionTimeoutMs: 300,
  logUri: "local://./data/log",
  raftMetaUri: "local://./data/raft_meta",
  snapshotUri: "local://./data/snapshot",
});
await waitForLeadership(node);
const results: unknown[] = [];
for (const n of [1, 2, 39]) {
  const applied = await node.apply(new TextEncoder().encode(String(n)));
  results.push(applied.result);
}
await node.readIndex();
let refused = "";
await node.shutdown();
try {
  await node.apply(new TextEncoder().encode("1"));
} catch (error) {
  refused = RaftError.is(error) ? error.code : String(error);
}
await server.stop();
console.log(JSON.stringify({ address: server.address, results, total: adder.total, refused }));
`;

/**
 * The strictest settings tsraft itself builds with, so its types must hold under them;
 * skipLibCheck as `tsc --init` sets it (checking all of @types/node would triple the time).
 */
export function userTsconfig(typeRoots: string): string {
  return JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2023"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
        typeRoots: [typeRoots],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        verbatimModuleSyntax: true,
        skipLibCheck: true,
        outDir: ".",
      },
      files: ["app.ts"],
    },
    null,
    2,
  );
}
