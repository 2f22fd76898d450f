/**
 * Structured logging: readable text lines by default, JSON lines with
 * `format: "json"`; every line carries the logger's bound fields (relay name,
 * connection id). {@linkcode RateLimit} keeps hot events to one line per interval.
 *
 * @module
 */

/** Log levels in increasing severity. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 } as const;
/** A level name. */
export type LogLevelName = keyof typeof LogLevel;
/** Output format. */
export type LogFormat = "text" | "json";
/** Field values a log line may carry. */
export type LogFields = Record<string, string | number | bigint | boolean | null | undefined>;

/** Where finished lines go (default: standard error). */
export type LogSink = (line: string) => void;

const encoder = new TextEncoder();

function stderrSink(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Options of a {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lowest level written (default info). */
  level?: LogLevelName;
  /** text or json (default text). */
  format?: LogFormat;
  /** Destination of lines. */
  sink?: LogSink;
  /** Fields on every line. */
  fields?: LogFields;
}

/**
 * A structured logger.
 *
 * @example
 * ```ts
 * const log = new Logger({ level: "info" }).with({ relay: "signal" });
 * log.info("listening", { path: "/tmp/torq/signals.sock" });
 * ```
 */
export class Logger {
  /** Shared with every child of {@linkcode Logger.with}, so `setLevel` reaches them all. */
  #level: { value: number };
  #format: LogFormat;
  readonly #sink: LogSink;
  readonly #fields: LogFields;

  /** @param options level, format, sink and bound fields */
  constructor(options: LoggerOptions = {}) {
    this.#level = { value: LogLevel[options.level ?? "info"] };
    this.#format = options.format ?? "text";
    this.#sink = options.sink ?? stderrSink;
    this.#fields = options.fields ?? {};
  }

  /**
   * A child logger with more bound fields. It shares its parent's level:
   * {@linkcode Logger.setLevel} on either changes both.
   *
   * @param fields fields added to every line
   * @returns the child
   */
  with(fields: LogFields): Logger {
    const child = new Logger({
      format: this.#format,
      sink: this.#sink,
      fields: { ...this.#fields, ...fields },
    });
    child.#level = this.#level;
    return child;
  }

  /**
   * Changes the level (e.g. on SIGHUP reload), for this logger and every
   * logger made from it or that it was made from with {@linkcode Logger.with}.
   *
   * @param level the new level
   */
  setLevel(level: LogLevelName): void {
    this.#level.value = LogLevel[level];
  }

  /** The current level's name. */
  get level(): LogLevelName {
    const name = (Object.keys(LogLevel) as LogLevelName[]).find((k) =>
      LogLevel[k] === this.#level.value
    );
    return name ?? "info";
  }

  /**
   * Whether a level is written.
   *
   * @param level the level
   * @returns true when lines of that level are written
   */
  enabled(level: LogLevelName): boolean {
    return LogLevel[level] >= this.#level.value;
  }

  /** Logs at debug. @param msg message @param fields extra fields */
  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }
  /** Logs at info. @param msg message @param fields extra fields */
  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }
  /** Logs at warn. @param msg message @param fields extra fields */
  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }
  /** Logs at error. @param msg message @param fields extra fields */
  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  #write(level: LogLevelName, msg: string, fields?: LogFields): void {
    if (LogLevel[level] < this.#level.value) return;
    const all: LogFields = fields === undefined ? this.#fields : { ...this.#fields, ...fields };
    if (this.#format === "json") {
      const out: Record<string, unknown> = { ts: new Date().toISOString(), level, msg };
      for (const [k, v] of Object.entries(all)) {
        if (v !== undefined) out[k] = typeof v === "bigint" ? v.toString() : v;
      }
      this.#sink(JSON.stringify(out));
      return;
    }
    let line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)}`;
    if (all.relay !== undefined) line += ` [${all.relay}]`;
    if (all.conn !== undefined) line += ` conn=${all.conn}`;
    line += ` ${msg}`;
    for (const [k, v] of Object.entries(all)) {
      if (k === "relay" || k === "conn" || v === undefined) continue;
      const text = String(v);
      line += ` ${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
    }
    this.#sink(line);
  }
}

/**
 * Allows one event per interval and counts what it suppressed in between.
 *
 * @example
 * ```ts
 * const log = new Logger();
 *
 * const limit = new RateLimit(1000);
 * const suppressed = limit.take(Date.now());
 * if (suppressed >= 0) log.warn("dropped frames", { suppressed });
 * ```
 */
export class RateLimit {
  readonly #intervalMs: number;
  #last = -Infinity;
  #suppressed = 0;

  /** @param intervalMs minimum time between allowed events */
  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /**
   * Asks to emit an event now.
   *
   * @param nowMs current time in ms
   * @returns -1 when suppressed, else how many events were suppressed since the last one
   */
  take(nowMs: number): number {
    if (nowMs - this.#last < this.#intervalMs) {
      this.#suppressed++;
      return -1;
    }
    this.#last = nowMs;
    const n = this.#suppressed;
    this.#suppressed = 0;
    return n;
  }
}

/**
 * At most `perWindow` events per `windowMs` window; the rest are counted and
 * reported with the next event allowed (for log lines that come in bursts,
 * such as one line per closed connection while thousands churn).
 *
 * @example
 * ```ts
 * const budget = new LogBudget(20, 1000);
 * const suppressed = budget.take(Date.now());
 * if (suppressed >= 0) console.log("closed", { suppressed_lines: suppressed });
 * ```
 */
export class LogBudget {
  readonly #perWindow: number;
  readonly #windowMs: number;
  #windowStart = -Infinity;
  #used = 0;
  #suppressed = 0;

  /**
   * @param perWindow events allowed per window
   * @param windowMs window length in ms
   */
  constructor(perWindow: number, windowMs: number) {
    this.#perWindow = perWindow;
    this.#windowMs = windowMs;
  }

  /**
   * Asks to emit an event now.
   *
   * @param nowMs current time in ms
   * @returns -1 when suppressed, else how many events were suppressed since the last one
   */
  take(nowMs: number): number {
    if (nowMs - this.#windowStart >= this.#windowMs) {
      this.#windowStart = nowMs;
      this.#used = 0;
    }
    if (this.#used >= this.#perWindow) {
      this.#suppressed++;
      return -1;
    }
    this.#used++;
    const n = this.#suppressed;
    this.#suppressed = 0;
    return n;
  }
}
