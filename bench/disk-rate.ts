/** The raw rate of the data disk, the limit every durable log is measured against. */
import { open, rm } from "node:fs/promises";
import { join } from "node:path";

export interface Rate {
  readonly ops: number;
  readonly seconds: number;
}

/** The disk's own rate: append `bytes` then fdatasync (or fsync), one at a time, for `ms`. */
export async function rawSyncRate(dir: string, bytes: number, useFsync: boolean, ms: number): Promise<Rate> {
  const file = join(dir, "raw");
  const fh = await open(file, "w");
  const buf = Buffer.alloc(bytes, 7);
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await fh.write(buf, 0, bytes, ops * bytes);
    if (useFsync) await fh.sync();
    else await fh.datasync();
    ops++;
  }
  const seconds = (performance.now() - start) / 1000;
  await fh.close();
  await rm(file);
  return { ops, seconds };
}
