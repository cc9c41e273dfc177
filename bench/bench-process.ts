/**
 * A benchmark node process seen from its driver: commands go to its stdin, its JSON-line events
 * are kept in order, and a driver waits for them with {@link Waiter.until}, which wakes on every
 * event or exit instead of polling.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { freePorts } from "../src/testing/free-ports.js";

export { freePorts };

/** One event line of a node process: `event` plus its fields. */
export type BenchEvent = { readonly event: string } & Record<string, unknown>;

/** Waits for conditions over node processes, each wait bounded by one overall deadline. */
export class Waiter {
  private readonly wakers = new Set<() => void>();
  readonly processes: BenchProcess[] = [];

  constructor(private readonly deadlineMs: number) {}

  /** Something happened: every waiting condition is checked again. */
  readonly wake = (): void => {
    for (const waker of [...this.wakers]) waker();
  };

  /** Resolves with `probe()`'s first defined value; rejects at the deadline or on a process failure. */
  async until<T>(what: string, probe: () => T | undefined): Promise<T> {
    for (;;) {
      const failed = this.processes.find((p) => p.failure !== undefined);
      if (failed !== undefined) throw new Error(`${failed.failure?.message} (waiting for ${what})`);
      const value = probe();
      if (value !== undefined) return value;
      const leftMs = this.deadlineMs - performance.now();
      if (leftMs <= 0) throw new Error(`deadline passed waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, leftMs);
        this.wakers.add(done);
      });
    }
  }
}

export class BenchProcess {
  readonly events: BenchEvent[] = [];
  /** Why the process is no use any more: an `error` event, or an exit nobody asked for. */
  failure: Error | undefined;
  private readonly child: ChildProcess;
  private exitExpected = false;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    script: string,
    args: readonly string[],
    private readonly waiter: Waiter,
  ) {
    this.child = spawn(process.execPath, [script, ...args], { stdio: ["pipe", "pipe", "inherit"] });
    waiter.processes.push(this);
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.once("exit", (code, signal) => {
      if (!this.exitExpected) this.failure ??= new Error(`${name} exited (${code ?? signal})`);
      waiter.wake();
    });
    this.child.stdin?.on("error", () => undefined); // A dead child's stdin; the exit reports it.
    createInterface({ input: this.child.stdout as NonNullable<ChildProcess["stdout"]> }).on(
      "line",
      (line) => {
        let event: BenchEvent;
        try {
          event = JSON.parse(line) as BenchEvent;
        } catch {
          return console.error(`${name}: ${line}`);
        }
        this.events.push(event);
        if (process.env["BENCH_VERBOSE"] !== undefined) console.error(`${name}: ${line}`);
        if (event.event === "error") this.failure ??= new Error(`${name}: ${String(event["message"])}`);
        waiter.wake();
      },
    );
  }

  /** The newest event named `name`. */
  last(name: string): BenchEvent | undefined {
    return this.events.findLast((e) => e.event === name);
  }

  /** Sends `command` without waiting for its reply. */
  send(command: string): void {
    this.child.stdin?.write(`${command}\n`);
  }

  /** Sends `command` and waits for the next `reply` event. */
  async request(command: string, reply: string): Promise<BenchEvent> {
    const seen = this.events.filter((e) => e.event === reply).length;
    this.send(command);
    return this.waiter.until(`${this.name}: ${reply}`, () => {
      const replies = this.events.filter((e) => e.event === reply);
      return replies.length > seen ? replies[replies.length - 1] : undefined;
    });
  }

  /** Shuts the node down cleanly and resolves with its `exit` event (which has its peak RSS). */
  async stop(): Promise<BenchEvent> {
    this.exitExpected = true;
    const exit = await this.request("exit", "exit");
    await this.exited;
    return exit;
  }

  /** SIGKILL if still running (cleanup after a failure); waits for the exit. */
  async kill(): Promise<void> {
    this.exitExpected = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}
