/**
 * Work that must leave the process before it blocks its event loop on purpose (an inline log
 * write + fsync): frames corked for the end of the turn would otherwise wait out the fsync, and
 * a leader's AppendEntries would reach its followers only after its own disk write, serializing
 * the two fsyncs that Raft lets run at once.
 *
 * A process-wide registry, because the writer that blocks (storage) and the writers that cork
 * (rpc) are peers that must not import each other.
 */

const hooks = new Set<() => void>();

/** Registers `hook` to run before every deliberate block of the loop; returns its removal. */
export function onBeforeBlocking(hook: () => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Runs every registered hook (each must be cheap and must not throw). */
export function runBeforeBlocking(): void {
  for (const hook of hooks) hook();
}
