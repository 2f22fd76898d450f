/**
 * Running relays as a service: build each relay from the effective
 * configuration, start them, and stop them gracefully on SIGINT/SIGTERM
 * (stop accepting, flush queues for up to 1 s, close, remove sockets, exit 0).
 * The CLI installs the signal listeners ({@linkcode ProcessSignals}) before
 * anything binds, so a signal during the start-up is honoured too.
 * SIGHUP reloads the configuration (the same file, environment and overrides)
 * and applies its limits, switches and log levels to the running relays
 * without dropping a connection; every change is logged, and a configuration
 * that does not load is logged and ignored. While it runs, freed memory is
 * given back to the operating system every 10 s (malloc_trim.ts), and V8's
 * worker threads are kept from preempting the thread that forwards
 * (thread_policy.ts).
 *
 * @module
 */

import { dirname, join } from "node:path";
import {
  type LoggingConfig,
  type RelayConfig,
  type RelayDomainName,
  SOCKET_FILE_NAMES,
  type TorqConfig,
} from "../config/mod.ts";
import { Logger, type LogSink } from "../log/mod.ts";
import { Relay, relayLogicFromConfig, RELOADABLE_CONFIG_KEYS } from "../relay/mod.ts";
import {
  checkSocketMode,
  isLoopback,
  TcpTransport,
  type Transport,
  UnixTransport,
} from "../transport/mod.ts";
import { startMallocTrim } from "./malloc_trim.ts";
import { startBackgroundBatching } from "./thread_policy.ts";
import { ProcessSignals } from "./signals.ts";
import { openDescriptors, openFileLimit, planDescriptors, raiseOpenFileLimit } from "./fd_limit.ts";

/** Options of {@linkcode startRelays}. */
export interface StartRelaysOptions {
  /** Socket path for a single relay (overrides its transport.path). */
  socketPath?: string;
  /** Directory for every relay's default socket file name. */
  socketDir?: string;
  /** Journal path of the audited relay (default: `journal.path`, else `<name>.journal` beside its socket). */
  journalPath?: string;
  /** Logger to use instead of one built from the config. */
  logger?: Logger;
  /**
   * Loads the configuration again, with the options the service was started
   * with (file, environment, overrides); used by {@linkcode RelayService.reload}
   * (SIGHUP). Without it a reload re-applies the starting configuration.
   */
  reloadConfig?: () => TorqConfig;
  /**
   * How the connection caps fit the open-file limit ({@linkcode descriptorBudget}); give
   * the one the process's HTTP server was sized with. Default: one for these relays alone.
   */
  descriptors?: DescriptorBudget;
}

/** Started relays. */
export interface RelayService {
  /** The relays, in the order asked for. */
  relays: Relay[];
  /** Stops every relay gracefully. */
  stop(): Promise<void>;
  /**
   * Loads the configuration again (`reloadConfig`) and applies what can change
   * at run time: each relay's limits and switches (`Relay.reload()`) and log
   * level. Connections stay open. Changes are logged; settings that need a
   * restart (socket path, TCP address, policy, log format or file) are logged as such. A
   * configuration that does not load is logged at error and changes nothing.
   *
   * @returns `<relay> key: old → new` for every change applied
   */
  reload(): string[];
  /**
   * Stops one relay (gracefully, dropping its connections) and starts it again
   * on the same socket from the running configuration (the starting one, or
   * what the last reload loaded: this applies the settings a reload can only
   * log as needing a restart). The new relay takes the old one's place in
   * `relays`.
   *
   * @param name the relay
   * @returns the new relay
   * @throws {RangeError} for a relay this service does not run; the start failure
   */
  restart(name: RelayDomainName): Promise<Relay>;
}

/**
 * A logger as the `logging` section describes it (file sink when `file` is set).
 *
 * @param logging the section
 * @returns the logger
 */
export function loggerFromConfig(logging: LoggingConfig): Logger {
  let sink: LogSink | undefined;
  if (logging.file !== null) {
    const file = Deno.openSync(logging.file, { append: true, create: true, write: true });
    const enc = new TextEncoder();
    sink = (line) => void file.writeSync(enc.encode(line + "\n"));
  }
  return new Logger({ level: logging.level, format: logging.format, ...(sink ? { sink } : {}) });
}

/**
 * Builds and starts relays. If one fails to start, those already started are stopped.
 *
 * @param config the effective configuration
 * @param names which relays
 * @param options path overrides and logger
 * @returns the running service
 * @throws the first start failure (e.g. a live relay already owns a socket), or a
 *   `TransportError` (`unsafe_mode`) before any relay starts when a socket mode is writable by
 *   others without `allow_world_socket`
 */
export async function startRelays(
  config: TorqConfig,
  names: readonly RelayDomainName[],
  options: StartRelaysOptions = {},
): Promise<RelayService> {
  const relays: Relay[] = [];
  const loggers: Logger[] = [];
  const journals: string[] = [];
  const socketPathOf = (name: RelayDomainName): string => {
    if (options.socketPath !== undefined && names.length === 1) return options.socketPath;
    if (options.socketDir !== undefined) return join(options.socketDir, SOCKET_FILE_NAMES[name]);
    return config.relays[name].transport.path;
  };
  // Refused before any relay listens, so no relay starts and stops again for another's mistake.
  for (const name of names) {
    const { socket_mode, allow_world_socket } = config.relays[name].transport;
    if (!allow_world_socket) checkSocketMode(socketPathOf(name), socket_mode);
  }
  const budget = options.descriptors ??
    descriptorBudget(names, { logger: options.logger ?? loggerFromConfig(config.logging) });
  let caps = budget.fit(config).relays;
  // Before the first relay listens: its first frames are forwarded with V8's workers in place.
  const batching = startBackgroundBatching();
  const socketPaths: string[] = [];
  /** Builds relay `i` from its section (at start, and again by restart()). */
  const build = (section: RelayConfig, i: number) => {
    const logic = {
      ...relayLogicFromConfig(section, journals[i]!),
      socketPath: socketPaths[i]!,
      maxConnections: caps[i]!,
    };
    const relayLog = loggers[i]!.with({ relay: logic.name });
    const transport = unixTransport(section, socketPaths[i]!, relayLog);
    const extraTransports = tcpTransports(section, relayLog);
    return new Relay(logic, {
      logger: loggers[i]!,
      transport,
      extraTransports,
      checkPools: checkPools(),
    });
  };
  try {
    for (const [i, name] of names.entries()) {
      const section = config.relays[name];
      const socketPath = socketPathOf(name);
      socketPaths.push(socketPath);
      journals.push(
        options.journalPath ?? section.journal.path ??
          join(dirname(socketPath), `${section.relay.name}.journal`),
      );
      loggers.push(options.logger ?? loggerFromConfig(section.logging));
      const relay = build(section, i);
      await relay.start();
      relays.push(relay);
    }
  } catch (e) {
    batching.stop();
    await Promise.all(relays.map((r) => r.stop(0)));
    throw e;
  }
  // What the running relays apply: the starting configuration, then each reload's except what
  // needs a restart. A reload compares against this, never against the last file it read.
  let current = config;
  return {
    relays,
    stop: async () => {
      batching.stop();
      await Promise.all(relays.map((r) => r.stop()));
    },
    reload: () => {
      const log = loggers[0] ?? new Logger();
      let next: TorqConfig;
      try {
        next = options.reloadConfig?.() ?? current;
      } catch (e) {
        const error = e instanceof Error ? e.message.replaceAll("\n", "; ") : String(e);
        log.error("reload failed: keeping the running configuration", { error });
        return [];
      }
      const changes: string[] = [];
      caps = budget.fit(next).relays;
      relays.forEach((relay, i) => {
        const name = names[i]!;
        const [before, after] = [current.relays[name], next.relays[name]];
        const rlog = loggers[i]!.with({ relay: relay.logic.name });
        const level = options.logger === undefined ? after.logging.level : next.logging.level;
        if (loggers[i]!.level !== level) {
          const line = `logging.level: ${loggers[i]!.level} → ${level}`;
          loggers[i]!.setLevel(level);
          rlog.info("reloaded", { changes: line });
          changes.push(`${relay.logic.name} ${line}`);
        }
        const restart = restartKeys(before, after);
        if (restart.length > 0) {
          rlog.warn("reload: these changes need a restart", { keys: restart.join(", ") });
        }
        const logic = { ...relayLogicFromConfig(after, journals[i]!), maxConnections: caps[i]! };
        for (const change of relay.reload(logic)) changes.push(`${relay.logic.name} ${change}`);
      });
      const relaysApplied = { ...next.relays };
      for (const name of names) {
        relaysApplied[name] = applied(current.relays[name], next.relays[name]);
      }
      current = { ...next, relays: relaysApplied };
      log.info("configuration reloaded", { changes: changes.length });
      return changes;
    },
    restart: async (name) => {
      const i = names.indexOf(name);
      if (i === -1) {
        throw new RangeError(
          `Cannot restart relay "${name}": this service runs ${names.join(", ")}`,
        );
      }
      await relays[i]!.stop();
      const relay = build(current.relays[name], i);
      await relay.start();
      relays[i] = relay;
      loggers[i]!.with({ relay: relay.logic.name }).info("restarted");
      return relay;
    },
  };
}

/**
 * The keys of a relay's section that differ between the running (applied)
 * configuration and a reloaded one and cannot change without a restart
 * (socket path, TCP address, policy, topics, log format or file, bridge …).
 *
 * @param running the applied section
 * @param reloaded the section just loaded
 * @returns dotted keys, e.g. `["transport.path"]`
 */
function restartKeys(running: RelayConfig, reloaded: RelayConfig): string[] {
  const keys: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (RELOADABLE_CONFIG_KEYS.has(path)) return;
    if (isRecord(a) && isRecord(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
        walk(a[k], b[k], path === "" ? k : `${path}.${k}`);
      }
    } else if (JSON.stringify(a) !== JSON.stringify(b)) keys.push(path);
  };
  walk(running, reloaded, "");
  return keys;
}

/**
 * The section a relay runs with after a reload: the reloaded one, except the
 * keys that need a restart, which keep their running values. A later reload
 * then warns again while they still differ, and says nothing once they are
 * back to what runs.
 *
 * @param running the applied section
 * @param reloaded the section just loaded
 * @returns the new applied section
 */
function applied(running: RelayConfig, reloaded: RelayConfig): RelayConfig {
  const out = structuredClone(reloaded) as unknown as Record<string, unknown>;
  for (const key of restartKeys(running, reloaded)) {
    const path = key.split(".");
    let from: unknown = running;
    let to: Record<string, unknown> = out;
    for (const k of path.slice(0, -1)) {
      from = isRecord(from) ? from[k] : undefined;
      if (!isRecord(to[k])) to[k] = {};
      to = to[k] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    const value = isRecord(from) ? from[last] : undefined;
    if (value === undefined) delete to[last];
    else to[last] = structuredClone(value);
  }
  return out as unknown as RelayConfig;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** How the connection caps of a process fit its open-file limit (see fd_limit.ts). */
export interface DescriptorBudget {
  /**
   * The caps in effect for a configuration: each relay's `max_connections` and the HTTP
   * server's, as configured or lowered to their share of what the limit leaves (with a
   * warning). The same configuration object is planned once.
   */
  fit(config: TorqConfig): { relays: number[]; http: number };
}

/**
 * Plans the process's descriptors before anything binds: the descriptors open now
 * plus a spare are kept; when the configured caps (each relay's `max_connections`
 * and, with `http`, `http.max_connections`) need more than the soft open-file
 * limit leaves, the limit is raised towards the hard one if the process may
 * (FFI), and otherwise every cap is lowered to its share, with a warning, so that
 * relays and the HTTP server refuse connections before accept() runs out of
 * descriptors (EMFILE).
 *
 * @param names the relays, in order
 * @param options whether the process serves HTTP, and where the warning goes
 * @returns the budget
 * @example
 * ```ts
 * import { Logger } from "../log/mod.ts";
 * import { loadConfig } from "../config/mod.ts";
 *
 * const budget = descriptorBudget(["signal"], { http: true, logger: new Logger() });
 * budget.fit(loadConfig()); // { relays: [100], http: 128 } under a high enough limit
 * ```
 */
export function descriptorBudget(
  names: readonly RelayDomainName[],
  options: { http?: boolean; logger: Logger },
): DescriptorBudget {
  const open = openDescriptors();
  const log = options.logger;
  let last: { config: TorqConfig; caps: { relays: number[]; http: number } } | null = null;
  return {
    fit(config) {
      if (last?.config === config) return last.caps;
      const wanted = names.map((n) => config.relays[n].performance.max_connections);
      if (options.http) wanted.push(config.http.max_connections);
      let caps = wanted;
      const limit = openFileLimit();
      if (limit !== null && open !== null) {
        let plan = planDescriptors(limit.soft, { open, wanted });
        if (!plan.fits && limit.hard > limit.soft) {
          const raised = raiseOpenFileLimit(plan.needed);
          if (raised !== null && raised > limit.soft) {
            log.info("raised the open file limit (ulimit -n) for the connection caps", {
              from: limit.soft,
              to: raised,
            });
            plan = planDescriptors(raised, { open, wanted });
          }
        }
        if (!plan.fits) {
          const labels = [...names, ...(options.http ? ["http"] : [])];
          log.warn(
            "the open file limit (ulimit -n) is too low for the connection caps: lowered them",
            {
              open_file_limit: plan.limit,
              needed: plan.needed,
              max_connections: labels.map((n, i) => `${n} ${wanted[i]} → ${plan.caps[i]}`)
                .join(", "),
            },
          );
        }
        caps = plan.caps;
      }
      const result = { relays: caps.slice(0, names.length), http: caps[names.length] ?? 0 };
      last = { config, caps: result };
      return result;
    },
  };
}

/**
 * The relay's Unix socket as its `transport` section describes it. A socket mode
 * writable by others is refused when listening unless `allow_world_socket` is
 * set; when it is, a warning says that every local user may connect.
 *
 * @param section the relay's configuration
 * @param path the socket path in effect
 * @param logger where the warning goes
 * @returns the transport
 */
function unixTransport(section: RelayConfig, path: string, logger: Logger): UnixTransport {
  const { socket_mode: mode, allow_foreign_dir, allow_world_socket } = section.transport;
  if (allow_world_socket && (mode & 0o002) !== 0) {
    logger.warn("the socket is writable by others: every local user may publish and subscribe", {
      socket_mode: "0" + mode.toString(8),
    });
  }
  return new UnixTransport(path, {
    socketMode: mode,
    allowForeignDir: allow_foreign_dir,
    allowWorldSocket: allow_world_socket,
  });
}

/**
 * The TCP endpoint a relay listens on besides its Unix socket, when
 * `transport.port` is set (`transport.address`, default 127.0.0.1). A
 * non-loopback address is logged as a warning: frames travel unauthenticated
 * and unencrypted.
 *
 * @param section the relay's configuration
 * @param logger where the warning goes
 * @returns zero or one transport
 */
function tcpTransports(section: RelayConfig, logger: Logger): Transport[] {
  const port = section.transport.port;
  if (port === null) return [];
  const host = section.transport.address ?? "127.0.0.1";
  if (!isLoopback(host)) {
    logger.warn(
      "listening on a TCP address other than loopback: frames are neither authenticated nor encrypted",
      { address: `${host}:${port}` },
    );
  }
  return [new TcpTransport(host, port)];
}

/** Options of {@linkcode runUntilSignal}. */
export interface RunUntilSignalOptions {
  /** Runs after the signal, before the relays stop (e.g. close an HTTP server). */
  beforeStop?: (signal: Deno.Signal) => Promise<void>;
  /**
   * The listeners installed before the service started (see {@linkcode ProcessSignals}); a
   * signal that came during the start-up stops the service at once. Default: new ones,
   * installed by this call.
   */
  signals?: ProcessSignals;
}

/**
 * Waits for SIGINT or SIGTERM, then stops the service gracefully; meanwhile
 * each SIGHUP reloads the configuration ({@linkcode RelayService.reload}). The
 * signal listeners are in place before the call returns (or were, given as
 * `signals`, before the service started), so a caller may announce readiness
 * after calling it and before awaiting the promise.
 *
 * @param service the running relays
 * @param options what to do before the relays stop, the listeners to use
 * @returns the signal that ended it
 */
export async function runUntilSignal(
  service: RelayService,
  options: RunUntilSignalOptions = {},
): Promise<Deno.Signal> {
  const signals = options.signals ?? new ProcessSignals();
  signals.onHangup(() => void service.reload());
  const trim = startMallocTrim();
  let signal: Deno.Signal;
  try {
    signal = await signals.stopped();
  } finally {
    signals.onHangup(null);
    trim.stop();
  }
  try {
    await options.beforeStop?.(signal);
  } finally {
    await service.stop();
    signals.dispose();
  }
  return signal;
}

/**
 * Whether `TORQ_CHECK_POOLS=1` asks for the slab pools' checking mode (tests
 * and stress runs: every ownership invariant asserted, recycled bytes poisoned).
 */
function checkPools(): boolean {
  try {
    return Deno.env.get("TORQ_CHECK_POOLS") === "1";
  } catch {
    return false; // no permission to read the environment
  }
}
