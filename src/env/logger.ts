/**
 * Structured, leveled logging that the user can replace. tsraft logs events (elections, leader
 * and term changes, configuration changes, snapshots, storage recovery, errors), never entries:
 * nothing is logged per entry on the replication path at the default level, and debug lines are
 * guarded by `isLevelEnabled` so their fields are not even built when debug is off.
 *
 * The default writes one logfmt line per event to stderr at level `info` (or TSRAFT_LOG_LEVEL):
 *   time=2026-11-22T04:00:00.000Z level=info msg="became leader" group=counter peer=127.0.0.1:8100:0 term=2
 */

/** Levels in increasing severity; `silent` turns a logger off. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

/** Context of one event; values are rendered with String() (objects as JSON). */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Where tsraft's logs go. Methods take a message and a fields object (winston's `(message, meta)`
 * order; pino takes `(fields, message)`, see docs/operations.md for the two-line adapter).
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Whether `level` is written (pino and winston have it); absent means every level is. */
  isLevelEnabled?(level: LogLevel): boolean;
}

const SEVERITY: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** Whether `level` names a level. */
export function isLogLevel(level: unknown): level is LogLevel {
  return typeof level === "string" && Object.hasOwn(SEVERITY, level);
}

/** Options of {@link createDefaultLogger}. */
export interface DefaultLoggerOptions {
  /** The least severe level written; default `info` (or the TSRAFT_LOG_LEVEL environment variable). */
  readonly level?: LogLevel | undefined;
  /** `logfmt` (default): `key=value` pairs; `json`: one JSON object per line. */
  readonly format?: "logfmt" | "json" | undefined;
  /** Receives each line, newline included; default: process.stderr. */
  readonly write?: ((line: string) => void) | undefined;
}

function defaultLevel(): LogLevel {
  const fromEnv = typeof process === "undefined" ? undefined : process.env["TSRAFT_LOG_LEVEL"];
  return isLogLevel(fromEnv) ? fromEnv : "info";
}

/** The default logger: one line per event, below `level` nothing (not even the fields' rendering). */
export function createDefaultLogger(options: DefaultLoggerOptions = {}): Logger {
  const threshold = SEVERITY[options.level ?? defaultLevel()];
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const render = options.format === "json" ? jsonLine : logfmtLine;
  const at =
    (level: Exclude<LogLevel, "silent">) =>
    (message: string, fields?: LogFields): void => {
      if (SEVERITY[level] >= threshold) write(render(level, message, fields));
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    isLevelEnabled: (level) => level !== "silent" && SEVERITY[level] >= threshold,
  };
}

function logfmtLine(level: string, message: string, fields: LogFields | undefined): string {
  let line = `time=${new Date().toISOString()} level=${level} msg=${logfmtValue(message)}`;
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value !== undefined) line += ` ${key}=${logfmtValue(value)}`;
    }
  }
  return line + "\n";
}

function logfmtValue(value: unknown): string {
  const text = typeof value === "string" ? value : stringify(value);
  return /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text);
}

function jsonLine(level: string, message: string, fields: LogFields | undefined): string {
  const record: Record<string, unknown> = { time: new Date().toISOString(), level, msg: message };
  if (fields !== undefined) {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value !== undefined) record[key] = value instanceof Error ? value.message : value;
    }
  }
  try {
    return JSON.stringify(record, bigintSafe) + "\n";
  } catch {
    return JSON.stringify({ time: record["time"], level, msg: message }) + "\n";
  }
}

function stringify(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value, bigintSafe);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

function bigintSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Writes nothing (the simulator's default: thousands of virtual elections are not news). */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  isLevelEnabled: () => false,
};

let processLogger: Logger = createDefaultLogger();

/** Replaces the process-wide logger (nodes and servers without their own `logger` option use it). */
export function setLogger(logger: Logger): void {
  processLogger = logger;
}

/** The process-wide logger. */
export function getLogger(): Logger {
  return processLogger;
}

/**
 * A logger that forwards to whatever the process-wide logger is at the time of each call, so
 * `setLogger` also reaches nodes and servers created before it.
 */
export const globalLogger: Logger = {
  debug: (message, fields) => processLogger.debug(message, fields),
  info: (message, fields) => processLogger.info(message, fields),
  warn: (message, fields) => processLogger.warn(message, fields),
  error: (message, fields) => processLogger.error(message, fields),
  isLevelEnabled: (level) => isEnabled(processLogger, level),
};

/** Whether `logger` writes `level`; a logger without `isLevelEnabled` writes every level. */
export function isEnabled(logger: Logger, level: LogLevel): boolean {
  return logger.isLevelEnabled === undefined || logger.isLevelEnabled(level);
}

/**
 * `logger` with `context` added to every line (the node's group and peer). The merge runs only
 * for lines the logger writes.
 */
export function withContext(logger: Logger, context: LogFields): Logger {
  return new ContextLogger(logger, context);
}

/**
 * A logger that adds `context` to every line. A class, not closures: every node keeps one for its
 * life, and six closures each cost an idle group more than this whole object does.
 */
class ContextLogger implements Logger {
  constructor(
    private readonly logger: Logger,
    private readonly context: LogFields,
  ) {}

  debug(message: string, fields?: LogFields): void {
    this.at("debug", message, fields);
  }

  info(message: string, fields?: LogFields): void {
    this.at("info", message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.at("warn", message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.at("error", message, fields);
  }

  isLevelEnabled(level: LogLevel): boolean {
    return isEnabled(this.logger, level);
  }

  private at(level: Exclude<LogLevel, "silent">, message: string, fields: LogFields | undefined): void {
    if (!isEnabled(this.logger, level)) return;
    this.logger[level](message, fields === undefined ? this.context : { ...this.context, ...fields });
  }
}
