/**
 * Running relays as a service: build each relay from the effective
 * configuration, start them, and stop them gracefully on SIGINT/SIGTERM
 * (stop accepting, flush queues for up to 1 s, close, remove sockets, exit 0).
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { LoggingConfig, RelayDomainName, TorqConfig } from "../config/mod.ts";
import { Logger, type LogSink } from "../log/logger.ts";
import { Relay } from "./relay.ts";
import { relayLogicFromConfig } from "./from_config.ts";

/** Options of {@linkcode startRelays}. */
export interface StartRelaysOptions {
  /** Socket path for a single relay (overrides its transport.path). */
  socketPath?: string;
  /** Directory for every relay's default socket file name. */
  socketDir?: string;
  /** Audit journal path of the execution relay (default: beside its socket). */
  journalPath?: string;
  /** Logger to use instead of one built from the config. */
  logger?: Logger;
}

/** Started relays. */
export interface RelayService {
  /** The relays, in the order asked for. */
  relays: Relay[];
  /** Stops every relay gracefully. */
  stop(): Promise<void>;
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
  try {
    for (const name of names) {
      const section = config.relays[name];
      let socketPath = section.transport.path;
      if (options.socketDir !== undefined) socketPath = join(options.socketDir, SOCKET_FILES[name]);
      if (options.socketPath !== undefined && names.length === 1) socketPath = options.socketPath;
      const journal = options.journalPath ??
        join(dirname(socketPath), `${section.relay.name}.audit.jsonl`);
      const logic = { ...relayLogicFromConfig(section, journal), socketPath };
      const logger = options.logger ?? loggerFromConfig(section.logging);
      const relay = new Relay(logic, { logger });
      await relay.start();
      relays.push(relay);
    }
  } catch (e) {
    await Promise.all(relays.map((r) => r.stop(0)));
    throw e;
  }
  return {
    relays,
    stop: async () => {
      await Promise.all(relays.map((r) => r.stop()));
    },
  };
}

/** Options of {@linkcode runUntilSignal}. */
export interface RunUntilSignalOptions {
  /** Runs after the signal, before the relays stop (e.g. close an HTTP server). */
  beforeStop?: (signal: Deno.Signal) => Promise<void>;
}

/**
 * Waits for SIGINT or SIGTERM, then stops the service gracefully. The signal
 * listeners are installed before the call returns, so a caller may announce
 * readiness after calling it and before awaiting the promise.
 *
 * @param service the running relays
 * @param options what to do before the relays stop
 * @returns the signal that ended it
 */
export async function runUntilSignal(
  service: RelayService,
  options: RunUntilSignalOptions = {},
): Promise<Deno.Signal> {
  const signal = await new Promise<Deno.Signal>((resolve) => {
    const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
      const h = () => {
        for (const [s, f] of handlers) Deno.removeSignalListener(s, f);
        resolve(sig);
      };
      Deno.addSignalListener(sig, h);
      return [sig, h] as const;
    });
  });
  try {
    await options.beforeStop?.(signal);
  } finally {
    await service.stop();
  }
  return signal;
}
