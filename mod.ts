/**
 * Torq: a Protocol V2 codec, domain relays and a client library.
 *
 * - `protocol`: the pure codec (header, TLVs, registry, payloads, InstrumentId,
 *   MessageBuilder, FrameReader)
 * - `relay`: the generic relay engine and the three domain logics
 * - `transport`: Unix sockets and TCP behind a small interface
 * - `nats`: frames over NATS (the client's `nats://` paths, the bridge's connection)
 * - `bridge`: the NATS bridge of a relay (core NATS or JetStream), started by
 *   `startBridges` (`daemon`)
 * - `config`: the YAML configuration loader
 * - `client`: `RelayClient`, used by the tools, tests and applications
 *
 * @example
 * ```ts
 * import { decodeMessage, MessageBuilder } from "./mod.ts";
 *
 * const heartbeat = new Uint8Array(16); // a Heartbeat payload (TLV 100)
 * const frame = new MessageBuilder({ domain: 2, source: 20 }).begin().addTlv(100, heartbeat).build();
 * decodeMessage(frame).tlvs[0]?.name; // "Heartbeat"
 * ```
 *
 * @module
 */

export * from "./src/protocol/mod.ts";
export * from "./src/relay/mod.ts";
export * from "./src/transport/mod.ts";
export { ConfigError, formatConfig, loadConfig, relayConfig } from "./src/config/mod.ts";
export type { RelayConfig, TorqConfig } from "./src/config/mod.ts";
export { Logger } from "./src/log/mod.ts";
export * from "./src/client/mod.ts";
export * from "./src/nats/mod.ts";
export * from "./src/bridge/mod.ts";
export { natsBridgeOptions, startBridges } from "./src/daemon/mod.ts";
export type { BridgeService, StartBridgesOptions } from "./src/daemon/mod.ts";
