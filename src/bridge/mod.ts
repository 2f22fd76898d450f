/**
 * The NATS bridge of a relay (PROTOCOL.md 7.12): {@linkcode NatsBridge} joins a
 * running relay to a NATS subject, core NATS (at most once) or JetStream
 * (acknowledged, deduplicated, durable). Importing this folder loads the NATS
 * client; `startBridges()` (src/daemon) imports it only when a relay's
 * `bridge.nats.enabled` is true.
 *
 * @example
 * ```ts
 * import { NatsBridge } from "./mod.ts";
 * import type { Relay } from "../relay/mod.ts";
 *
 * declare const relay: Relay;
 * const bridge = await NatsBridge.start(relay, { servers: ["nats://127.0.0.1:4222"] });
 * await bridge.stop();
 * ```
 *
 * @module
 */

export { defaultDurableName, defaultStreamName, messageId, NatsBridge } from "./nats.ts";
export type { NatsBridgeDirection, NatsBridgeOptions, NatsJetStreamOptions } from "./nats.ts";
