/**
 * The supervisor of the team's own services (`services:` in the
 * configuration): starts them in dependency order, restarts them by their
 * policy with exponential backoff, gives up after too many fast crashes, and
 * stops them in reverse order (stop signal, grace period, then SIGKILL).
 *
 * Each service runs in its own session and process group, so a Ctrl-C in the
 * terminal reaches `torq up` alone (which then stops the services in order),
 * and stopping a service reaches every process it started. When a service's
 * main process ends, what is left of its process group is killed, as systemd
 * does with a unit's control group.
 *
 * Its stdout and stderr go, line by line with a timestamp, to
 * `<logDir>/<name>.log` (size-rotated), and to `echo` (the terminal of a
 * foreground `torq up`). Lines the supervisor itself writes there start with
 * `torq up:`.
 *
 * @module
 */

import { join } from "node:path";
import type { ServiceConfig } from "../config/mod.ts";
import type { ServiceExit, ServiceRow, ServiceState } from "../http/mod.ts";
import { serviceStartOrder } from "../config/mod.ts";
import { Logger, RotatingFile } from "../log/mod.ts";
import { LineSplitter } from "./line_splitter.ts";
import {
  describeExit,
  type ExitStatus,
  formatDelay,
  isFailure,
  RestartTracker,
} from "./restart_policy.ts";

/** One service's status (the HTTP API's `ServiceRow`). */
export type ServiceStatus = ServiceRow;
export type { ServiceExit, ServiceState };

/** What stopping one service did. */
export interface StoppedService {
  /** The service. */
  name: string;
  /** The process that was stopped, or null when none ran. */
  pid: number | null;
  /** `stopped` within the grace period, `killed` after it, `not running`. */
  how: "stopped" | "killed" | "not running";
  /** The signal sent first. */
  signal: string;
  /** How long it took, ms. */
  ms: number;
  /** How the process ended (absent when none ran). */
  exit?: ExitStatus;
}

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** Directory of the services' log files. */
  logDir: string;
  /** How to run `torq` itself (`command: torq`): the program and its leading arguments. */
  torqCommand: readonly string[];
  /** Variables added to every service's environment (before its own `environment`). */
  env?: Readonly<Record<string, string>>;
  /** Working directory of services without `working_dir` (default: this process's). */
  cwd?: string;
  /** Receives each output line (a foreground `torq up` prints `[name] line`). */
  echo?: (name: string, line: string) => void;
  /** Where the supervisor logs starts, exits and restarts. */
  logger?: Logger;
  /** Clock in ms since the epoch (default `Date.now`). */
  clock?: () => number;
}

/** A service that could not be started (its command or working directory is missing, …). */
export class ServiceStartError extends Error {
  /** The service. */
  readonly service: string;

  /**
   * @param service the service's name
   * @param message what went wrong
   * @param options the original error as `cause`
   */
  constructor(service: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServiceStartError";
    this.service = service;
  }
}

const encoder = new TextEncoder();

/** How long the output of an ended service may keep arriving, ms. */
const PIPE_DRAIN_MS = 2_000;

/** Signals a whole process group; a group that is gone already is fine. */
function signalGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // no process left in the group
  }
}

/** A command line as people read it (arguments with spaces quoted). */
export function displayCommand(words: readonly string[]): string {
  return words.map((w) => /^[\w@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w)).join(" ");
}

/** One supervised service. */
class ServiceProcess {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly #o: SupervisorOptions;
  readonly #clock: () => number;
  readonly #log: RotatingFile;
  readonly #logger: Logger;
  readonly #tracker: RestartTracker;
  #state: ServiceState = "stopped";
  #child: Deno.ChildProcess | null = null;
  #startedAt: number | null = null;
  #restarts = 0;
  #runs = 0;
  #lastExit: ServiceExit | null = null;
  #reason: string | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #ended: Promise<void> = Promise.resolve();
  #wantDown = false;
  #logFailed = false;
  #echoFailed = false;

  constructor(name: string, config: ServiceConfig, options: SupervisorOptions) {
    this.name = name;
    this.config = config;
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#logger = (options.logger ?? new Logger()).with({ service: name });
    this.#tracker = new RestartTracker(config);
    this.#log = RotatingFile.open(join(options.logDir, `${name}.log`), {
      maxBytes: config.log_max_bytes,
      keep: config.log_keep,
    });
  }

  get command(): string[] {
    const c = this.config;
    const program = c.command === "torq" ? this.#o.torqCommand : [c.command];
    return [...program, ...c.args];
  }

  status(): ServiceStatus {
    const c = this.config;
    return {
      name: this.name,
      state: this.#state,
      pid: this.#child?.pid ?? null,
      startedAt: this.#child === null ? null : this.#startedAt,
      restarts: this.#restarts,
      lastExit: this.#lastExit === null ? null : { ...this.#lastExit },
      reason: this.#reason,
      command: displayCommand([c.command, ...c.args]),
      log: this.#log.path,
    };
  }

  /** Starts a run now. @throws {ServiceStartError} when it cannot be spawned */
  start(): void {
    this.#wantDown = false;
    this.#clearTimer();
    const [program, ...args] = this.command;
    const cwd = this.config.working_dir ?? this.#o.cwd ?? Deno.cwd();
    try {
      if (!Deno.statSync(cwd).isDirectory) throw new Deno.errors.NotADirectory(cwd);
    } catch (e) {
      throw this.#startError(`working directory ${JSON.stringify(cwd)} is not a directory`, e);
    }
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program!, {
        args,
        cwd,
        env: { ...this.#o.env, TORQ_SERVICE: this.name, ...this.config.environment },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? `command ${JSON.stringify(program)} not found`
        : e instanceof Deno.errors.PermissionDenied
        ? `command ${JSON.stringify(program)} is not executable`
        : `cannot run ${JSON.stringify(program)}: ${(e as Error).message}`;
      throw this.#startError(why, e);
    }
    const now = this.#clock();
    this.#child = child;
    this.#startedAt = now;
    this.#state = "running";
    this.#reason = null;
    if (this.#runs++ > 0) this.#restarts++;
    this.#tracker.started(now);
    this.#note(`started, pid ${child.pid}: ${displayCommand(this.command)}`);
    this.#logger.info("service started", { pid: child.pid });
    this.#ended = this.#watch(child);
  }

  /**
   * Stops the running process: the stop signal to its process group, SIGKILL
   * after the grace period. A pending restart is cancelled.
   */
  async stop(): Promise<StoppedService> {
    this.#wantDown = true;
    const signal = this.config.stop_signal;
    const t0 = this.#clock();
    const child = this.#child;
    if (child === null) {
      if (this.#clearTimer()) this.#setDown("stopped", null);
      return { name: this.name, pid: null, how: "not running", signal, ms: 0 };
    }
    this.#state = "stopping";
    this.#note(`stopping pid ${child.pid} (${signal})`);
    signalGroup(child.pid, signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceful = await Promise.race([
      this.#ended.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), this.config.stop_timeout_ms)),
    ]);
    clearTimeout(timer);
    if (!graceful) {
      this.#note(`still running after ${formatDelay(this.config.stop_timeout_ms)}: SIGKILL`);
      signalGroup(child.pid, "SIGKILL");
      await this.#ended;
    }
    const exit = this.#lastExit;
    return {
      name: this.name,
      pid: child.pid,
      how: graceful ? "stopped" : "killed",
      signal,
      ms: this.#clock() - t0,
      ...(exit === null ? {} : { exit: { code: exit.code, signal: exit.signal } }),
    };
  }

  /** Starts a run with its restart counters reset (a start by hand, not by its policy). */
  launch(): void {
    this.#tracker.reset();
    this.start();
  }

  /** Stops it (if it runs) and starts it again, its restart counters reset. */
  async restart(): Promise<StoppedService> {
    const stopped = await this.stop();
    this.launch();
    return stopped;
  }

  close(): void {
    this.#clearTimer();
    this.#log.close();
  }

  async #watch(child: Deno.ChildProcess): Promise<void> {
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const lines = new LineSplitter((line) => this.#line(line));
      try {
        for await (const chunk of stream) lines.push(chunk);
      } catch {
        // the pipe broke: what came is written
      }
      lines.end();
    };
    const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const { code, signal } = await child.status;
    const at = this.#clock();
    // What its main process left behind dies with it; then the pipes close (unless a
    // process left the group: its output is not waited for).
    signalGroup(child.pid, "SIGKILL");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([pumps, new Promise((r) => timer = setTimeout(r, PIPE_DRAIN_MS))]);
    clearTimeout(timer);
    const status: ExitStatus = { code, signal };
    this.#child = null;
    this.#lastExit = { code, signal, at };
    const ran = formatDelay(Math.max(0, at - (this.#startedAt ?? at)));
    if (this.#wantDown) {
      this.#setDown("stopped", null);
      this.#note(`stopped: ${describeExit(status)} after ${ran}`);
      this.#logger.info("service stopped", { pid: child.pid, exit: describeExit(status) });
      return;
    }
    const decision = this.#tracker.exited(at, status);
    const how = `exited with ${describeExit(status)} after ${ran}`;
    if (decision.action === "restart") {
      this.#state = "restarting";
      this.#reason = `${how}; restarting in ${formatDelay(decision.delayMs)}`;
      this.#note(this.#reason);
      const log = isFailure(status) ? "warn" : "info";
      this.#logger[log]("service exited", {
        pid: child.pid,
        exit: describeExit(status),
        restart_in_ms: decision.delayMs,
      });
      this.#timer = setTimeout(() => {
        this.#timer = null;
        try {
          this.start();
        } catch (e) {
          this.#setDown("failed", (e as Error).message);
          this.#note(`failed: ${this.#reason}`);
          this.#logger.error("service failed", { reason: this.#reason });
        }
      }, decision.delayMs);
      return;
    }
    this.#setDown(decision.action, decision.reason);
    this.#note(
      `${decision.action}: ${how}${decision.action === "failed" ? ` (${decision.reason})` : ""}`,
    );
    if (decision.action === "failed") {
      this.#logger.error("service failed", { pid: child.pid, reason: decision.reason });
    } else {
      this.#logger.info("service exited", { pid: child.pid, exit: describeExit(status) });
    }
  }

  #setDown(state: ServiceState, reason: string | null): void {
    this.#state = state;
    this.#reason = reason;
    this.#child = null;
  }

  #clearTimer(): boolean {
    if (this.#timer === null) return false;
    clearTimeout(this.#timer);
    this.#timer = null;
    return true;
  }

  #startError(why: string, cause: unknown): ServiceStartError {
    const message = `Cannot start service ${JSON.stringify(this.name)}: ${why}`;
    this.#note(message);
    return new ServiceStartError(this.name, message, { cause });
  }

  #line(line: string): void {
    this.#write(line);
    if (this.#o.echo === undefined || this.#echoFailed) return;
    try {
      this.#o.echo(this.name, line);
    } catch {
      // The terminal went away (a closed pipe): the log file still gets every line.
      this.#echoFailed = true;
    }
  }

  #note(text: string): void {
    this.#write(`torq up: ${text}`);
  }

  #write(line: string): void {
    try {
      this.#log.write(encoder.encode(`${new Date(this.#clock()).toISOString()} ${line}\n`));
      this.#logFailed = false;
    } catch (e) {
      if (!this.#logFailed) {
        this.#logger.error("cannot write the service log", {
          path: this.#log.path,
          error: (e as Error).message,
        });
      }
      this.#logFailed = true;
    }
  }
}

/**
 * Runs the configured services.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 *
 * const config = loadConfig({ file: "torq.yaml" });
 * const supervisor = new Supervisor(config.services, {
 *   logDir: "/tmp/torq",
 *   torqCommand: [Deno.execPath()],
 *   echo: (name, line) => console.log(`[${name}] ${line}`),
 * });
 * await supervisor.start();
 * // ...
 * await supervisor.stop();
 * supervisor.close();
 * ```
 */
export class Supervisor {
  readonly #services: ServiceProcess[] = [];

  /**
   * Opens every enabled service's log file; starts nothing yet.
   *
   * @param services `services:` of the configuration
   * @param options log directory, how to run torq, environment, echo, logger
   */
  constructor(services: Readonly<Record<string, ServiceConfig>>, options: SupervisorOptions) {
    try {
      for (const name of serviceStartOrder(services)) {
        const config = services[name]!;
        if (config.enabled) this.#services.push(new ServiceProcess(name, config, options));
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** The services' names, in start order. */
  get names(): string[] {
    return this.#services.map((s) => s.name);
  }

  /**
   * Starts every service, dependencies first. When one cannot be started,
   * those already started are stopped again.
   *
   * @throws {ServiceStartError} naming the service and why
   */
  async start(): Promise<void> {
    const started: ServiceProcess[] = [];
    for (const s of this.#services) {
      try {
        s.launch();
        started.push(s);
      } catch (e) {
        for (const t of started.reverse()) await t.stop();
        throw e;
      }
    }
  }

  /**
   * Stops every service in reverse start order, one after the other.
   *
   * @returns what was stopped, in stop order
   */
  async stop(): Promise<StoppedService[]> {
    const out: StoppedService[] = [];
    for (const s of [...this.#services].reverse()) out.push(await s.stop());
    return out;
  }

  /**
   * Restarts one service (stop, then start), leaving the others alone.
   *
   * @param name the service
   * @returns what stopping it did
   * @throws {RangeError} for an unknown name; {@linkcode ServiceStartError}
   */
  async restart(name: string): Promise<StoppedService> {
    return await this.#get(name).restart();
  }

  /**
   * Whether a service of that name is supervised.
   *
   * @param name the name
   * @returns true when known
   */
  has(name: string): boolean {
    return this.#services.some((s) => s.name === name);
  }

  /**
   * Every service's status, in start order.
   *
   * @returns the statuses
   */
  status(): ServiceStatus[] {
    return this.#services.map((s) => s.status());
  }

  /** Closes the log files (after {@linkcode Supervisor.stop}). */
  close(): void {
    for (const s of this.#services) s.close();
  }

  #get(name: string): ServiceProcess {
    const s = this.#services.find((x) => x.name === name);
    if (s === undefined) {
      throw new RangeError(
        `Cannot find service ${JSON.stringify(name)}: the services are ${
          this.names.map((n) => JSON.stringify(n)).join(", ") || "none"
        }`,
      );
    }
    return s;
  }
}
