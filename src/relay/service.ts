/**
 * Running relays as a service: build each relay from the effective
 * configuration, start them, and stop them gracefully on SIGINT/SIGTERM
 * (stop accepting, flush queues for up to 1 s, close, remove sockets, exit 0).
 * SIGHUP reloads the configuration (the same file, environment and overrides)
 * and applies its limits, switches and log levels to the running relays
 * without dropping a connection; every change is logged, and a configuration
 * that does not load is logged and ignored. While it runs, freed memory is
 * given back to the operating system every 10 s (malloc_trim.ts).
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { LoggingConfig, RelayConfig, RelayDomainName, TorqConfig } from "../config/mod.ts";
import { Logger, type LogSink } from "../log/logger.ts";
import { Relay } from "./relay.ts";
import { relayLogicFromConfig } from "./from_config.ts";
import { isLoopback, TcpTransport } from "../transport/tcp.ts";
import type { Transport } from "../transport/transport.ts";
import { startMallocTrim } from "./malloc_trim.ts";

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

const SOCKET_FILES: Readonly<Record<RelayDomainName, string>> = {
  market_data: "market_data.sock",
  signal: "signals.sock",
  execution: "execution.sock",
};

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
 * @throws the first start failure (e.g. a live relay already owns a socket)
 */
export async function startRelays(
  config: TorqConfig,
  names: readonly RelayDomainName[],
  options: StartRelaysOptions = {},
): Promise<RelayService> {
  const relays: Relay[] = [];
  const loggers: Logger[] = [];
  const journals: string[] = [];
  const socketPaths: string[] = [];
  const build = (section: RelayConfig, i: number) => {
    const logic = { ...relayLogicFromConfig(section, journals[i]!), socketPath: socketPaths[i]! };
    const extraTransports = tcpTransports(section, loggers[i]!.with({ relay: logic.name }));
    return new Relay(logic, { logger: loggers[i]!, extraTransports, checkPools: checkPools() });
  };
  try {
    for (const [i, name] of names.entries()) {
      const section = config.relays[name];
      let socketPath = section.transport.path;
      if (options.socketDir !== undefined) socketPath = join(options.socketDir, SOCKET_FILES[name]);
      if (options.socketPath !== undefined && names.length === 1) socketPath = options.socketPath;
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
    await Promise.all(relays.map((r) => r.stop(0)));
    throw e;
  }
  // What the running relays apply: the starting configuration, then each reload's except what
  // needs a restart. A reload compares against this, never against the last file it read.
  let current = config;
  return {
    relays,
    stop: async () => {
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
        const logic = relayLogicFromConfig(after, journals[i]!);
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

/** Keys of a relay's section a running relay takes on SIGHUP (`Relay.reload()`, the log level). */
const RELOADABLE_KEYS: ReadonlySet<string> = new Set([
  "logging.level",
  "relay.echo",
  "relay.hello_marks_publisher",
  "validation.strict",
  "validation.allow_vendor",
  "validation.strict_source_check",
  "validation.max_sequence_gap",
  "validation.max_future_ms",
  "validation.max_age_ms",
  "validation.max_message_size",
  "performance.max_connections",
  "performance.max_queue_frames",
  "performance.max_queue_bytes",
  "performance.slow_consumer",
  "performance.slow_consumer_timeout_ms",
  "performance.max_block_ms",
  "performance.max_garbage_bytes",
  "performance.producer_stall",
  "performance.slow_consumer_stall_ms",
  "performance.max_producer_stall_ms",
  "performance.max_stall_total_ms",
  "performance.partial_frame_timeout_ms",
  "performance.write_stall_timeout_ms",
  "performance.idle_timeout_ms",
]);

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
    if (RELOADABLE_KEYS.has(path)) return;
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
}

/**
 * Waits for SIGINT or SIGTERM, then stops the service gracefully; meanwhile
 * each SIGHUP reloads the configuration ({@linkcode RelayService.reload}). The
 * signal listeners are installed before the call returns, so a caller may
 * announce readiness after calling it and before awaiting the promise.
 *
 * @param service the running relays
 * @param options what to do before the relays stop
 * @returns the signal that ended it
 */
export async function runUntilSignal(
  service: RelayService,
  options: RunUntilSignalOptions = {},
): Promise<Deno.Signal> {
  const reload = () => void service.reload();
  Deno.addSignalListener("SIGHUP", reload);
  const trim = startMallocTrim();
  const signal = await new Promise<Deno.Signal>((resolve) => {
    const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
      const h = () => {
        for (const [s, f] of handlers) Deno.removeSignalListener(s, f);
        Deno.removeSignalListener("SIGHUP", reload);
        resolve(sig);
      };
      Deno.addSignalListener(sig, h);
      return [sig, h] as const;
    });
  });
  trim.stop();
  try {
    await options.beforeStop?.(signal);
  } finally {
    await service.stop();
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
