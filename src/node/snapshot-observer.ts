/** How a node reports snapshot saves, loads and installs: one log line and one observation each. */
import { RaftError } from "../core/errors.js";
import type { Logger } from "../env/logger.js";
import type { NodeMetrics, SnapshotOp } from "../env/metrics.js";

/** The node's logger, metrics and clock, as the snapshot code needs them. */
export interface SnapshotObserver {
  readonly logger: Logger;
  readonly metrics: NodeMetrics;
  readonly nowMs: () => number;
}

/** Records the end of `op` that started at `startMs`: `error` undefined when it succeeded. */
export function observeSnapshot(
  observer: SnapshotObserver,
  op: SnapshotOp,
  startMs: number,
  error: unknown,
  index: number | undefined,
): void {
  const durationMs = observer.nowMs() - startMs;
  const ok = error === undefined;
  observer.metrics.snapshotFinished(op, durationMs / 1000, ok);
  const fields = { index, durationMs: Math.round(durationMs * 1000) / 1000 };
  if (ok) {
    observer.logger.info(`snapshot ${op} finished`, fields);
  } else if (RaftError.is(error) && (error.code === "ECANCELED" || error.code === "ESHUTDOWN")) {
    observer.logger.info(`snapshot ${op} cancelled`, { ...fields, reason: error.message });
  } else {
    observer.logger.warn(`snapshot ${op} failed`, { ...fields, error: String(error) });
  }
}
