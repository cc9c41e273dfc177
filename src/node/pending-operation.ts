/** One long operation of a node at a time (a configuration change, a leadership transfer). */
import { RaftError } from "../core/errors.js";

export class PendingOperation {
  private pending: { resolve(): void; reject(error: RaftError): void } | undefined;

  constructor(private readonly what: string) {}

  /**
   * Runs `start`, which returns the error refusing the operation, or undefined once started (the
   * core then reports the end through `finish`). `started` false means it finished at once.
   */
  run(start: () => { error: RaftError | undefined; started: boolean }): Promise<void> {
    if (this.pending !== undefined) {
      const busy = new RaftError("EBUSY", `another ${this.what} is in progress`, { outcome: "refused" });
      return Promise.reject(busy);
    }
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const { error, started } = start();
      // Refused at the start: nothing was proposed or sent, so it is safe to retry.
      if (error !== undefined || !started) this.finish(error?.withOutcome("refused"));
    });
  }

  /** The operation ended: OK when `error` is undefined; `error` says whether it may still happen. */
  finish(error: RaftError | undefined): void {
    const pending = this.pending;
    this.pending = undefined;
    if (error === undefined) pending?.resolve();
    else pending?.reject(error);
  }
}
