/**
 * Bridges between relays and message buses (PROTOCOL.md 7.12): the NATS bridge
 * and {@linkcode startBridges}, which starts every bridge the configuration
 * enables (`relays.<name>.bridge.nats.enabled`) for running relays.
 *
 * @example
 * ```ts
 * import { startBridges } from "./mod.ts";
 *
 * const service = await startRelays(config, ["execution"]);
 * const bridges = await startBridges(service.relays, config);
 * // ...
 * await bridges.stop();
 * await service.stop();
 * ```
 *
 * @module
 */

export { defaultDurableName, defaultStreamName, messageId, NatsBridge } from "./nats.ts";
export type { NatsBridgeDirection, NatsBridgeOptions, NatsJetStreamOptions } from "./nats.ts";
export { natsBridgeOptions, startBridges } from "./start.ts";
export type { BridgeService, StartBridgesOptions } from "./start.ts";
