/** Runs the LogStorage contract against every built-in implementation. */
import { createLogStorageFromUri } from "../../src/storage/registry.js";
import { removeDir, tempDir } from "./helpers.js";
import { runLogStorageContract, type LogHarness } from "./log-contract.js";

function memoryHarness(): LogHarness {
  let n = 0;
  const prefix = `log-contract-${process.pid}-${Date.now()}`;
  return {
    name: "memory://",
    newLocation: async () => `${prefix}-${n++}`,
    open: (name) => createLogStorageFromUri(`memory://${name}`),
    cleanup: async () => undefined,
  };
}

function localHarness(name: string, segmentBytes: number | undefined): LogHarness {
  const dirs: string[] = [];
  return {
    name,
    newLocation: async () => {
      const dir = await tempDir();
      dirs.push(dir);
      return `${dir}/log`;
    },
    open: (dir) =>
      createLogStorageFromUri(
        `local://${dir}`,
        segmentBytes === undefined ? {} : { raft_max_segment_size: segmentBytes, recentEntriesMax: 8 },
      ),
    cleanup: async () => {
      for (const dir of dirs) await removeDir(dir);
    },
  };
}

runLogStorageContract(memoryHarness());
runLogStorageContract(localHarness("local:// (8 MiB segments)", undefined));
// Tiny segments and a tiny cache: rollover, cross-segment truncation and reads from disk.
runLogStorageContract(localHarness("local:// (2 KiB segments, reads from disk)", 2048));
