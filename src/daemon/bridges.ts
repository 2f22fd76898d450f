/**
 * Starting the bridges a configuration enables: {@linkcode startBridges} and
 * {@linkcode natsBridgeOptions}. The NATS bridge (and its client library) is
 * imported only when a relay's `bridge.nats.enabled` is true, so relay
 * processes without a bridge do not load it.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * import { startRelays } from "./relays.ts";
 * import { startBridges } from "./bridges.ts";
 *
 * const config = loadConfig();
 * const service = await startRelays(config, ["execution"]);
 * const bridges = await startBridges(service.relays, config);
 * // ...
 * await bridges.stop();
 * await service.stop();
 * ```
 *
 * @module
 */

import type { RelayConfig, TorqConfig } from "../config/mod.ts";
import { DOMAIN_NAMES } from "../config/mod.ts";
import type { Relay } from "../relay/mod.ts";
import { Logger } from "../log/mod.ts";
// Types only: the NATS client is loaded when a bridge is enabled, not by every relay process.
import type { NatsBridge, NatsBridgeOptions } from "../bridge/mod.ts";

/** Running bridges. */
export interface BridgeService {
  /** The bridges, in relay order. */
  bridges: NatsBridge[];
  /** Stops every bridge (unacknowledged JetStream frames get up to 1 s). */
  stop(): Promise<void>;
  /**
   * Stops the bridges of one relay (before the relay is restarted).
   *
   * @param relay the relay
   */
  stopFor(relay: Relay): Promise<void>;
  /**
   * Starts the bridges the configuration enables for a relay (a restarted one).
   *
   * @param relay the relay
   */
  startFor(relay: Relay): Promise<void>;
}

/** Options of {@linkcode startBridges}. */
export interface StartBridgesOptions {
  /** Logger for every bridge (default: one built per relay by `loggerFor`, else a text logger). */
  logger?: Logger;
  /** Logger of one relay's bridge (e.g. from its `logging` section). */
  loggerFor?: (section: RelayConfig) => Logger;
}

/**
 * The bridge options of a relay's configuration section.
 *
 * @param section `relays.<name>`
 * @returns the options, or null when its bridge is disabled
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * const config = loadConfig();
 *
 * natsBridgeOptions(config.relays.execution); // null unless bridge.nats.enabled
 * ```
 */
export function natsBridgeOptions(section: RelayConfig): NatsBridgeOptions | null {
  const n = section.bridge.nats;
  if (!n.enabled) return null;
  const js = n.jetstream;
  return {
    servers: [...n.servers],
    subjectPrefix: n.subject_prefix,
    subjectTopic: n.subject_topic,
    direction: n.direction,
    token: n.token,
    user: n.user,
    password: n.password,
    credsFile: n.creds_file,
    jetstream: js === null ? null : {
      stream: js.stream,
      storage: js.storage,
      durable: js.durable,
      duplicateWindowMs: js.duplicate_window_ms,
      ackTimeoutMs: js.ack_timeout_ms,
    },
    reconnectInitialMs: n.reconnect_initial_ms,
    reconnectMaxMs: n.reconnect_max_ms,
    maxPendingFrames: n.max_pending_frames,
  };
}

/**
 * Starts the enabled bridges of running relays. Each connects in the
 * background (a NATS server that is down does not stop the relays); a
 * credentials file that cannot be read is an error, and bridges started
 * before it are stopped.
 *
 * @param relays running relays (matched to their section by domain)
 * @param config the effective configuration
 * @param options loggers
 * @returns the running bridges
 * @throws {Error} when a bridge cannot start
 * @example
 * ```ts
 * import type { TorqConfig } from "../config/mod.ts";
 * import { loggerFromConfig, type RelayService } from "./relays.ts";
 * declare const config: TorqConfig;
 * declare const service: RelayService;
 *
 * const bridges = await startBridges(service.relays, config, {
 *   loggerFor: (section) => loggerFromConfig(section.logging),
 * });
 * await bridges.stop();
 * ```
 */
export async function startBridges(
  relays: readonly Relay[],
  config: TorqConfig,
  options: StartBridgesOptions = {},
): Promise<BridgeService> {
  const bridges: NatsBridge[] = [];
  const startFor = async (relay: Relay) => {
    const name = DOMAIN_NAMES[relay.logic.domain - 1];
    if (name === undefined) return;
    const section = config.relays[name];
    const o = natsBridgeOptions(section);
    if (o === null) return;
    const logger = options.logger ?? options.loggerFor?.(section) ?? new Logger();
    const { NatsBridge } = await import("../bridge/mod.ts");
    bridges.push(await NatsBridge.start(relay, { ...o, logger }));
  };
  try {
    for (const relay of relays) await startFor(relay);
  } catch (e) {
    await Promise.all(bridges.map((b) => b.stop(0)));
    throw e;
  }
  return {
    bridges,
    stop: async () => {
      await Promise.all(bridges.map((b) => b.stop()));
    },
    stopFor: async (relay) => {
      const mine = bridges.filter((b) => b.relay === relay);
      bridges.splice(0, bridges.length, ...bridges.filter((b) => b.relay !== relay));
      await Promise.all(mine.map((b) => b.stop()));
    },
    startFor,
  };
}
