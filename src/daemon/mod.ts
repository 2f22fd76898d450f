/**
 * What a relay process runs around its relays: {@linkcode startRelays} builds
 * the relays of the configuration and runs them as a {@linkcode RelayService}
 * (graceful stop on SIGINT/SIGTERM, SIGHUP reload, restart of one relay, the
 * open-file budget of {@linkcode descriptorBudget}, memory given back with
 * `malloc_trim`), and {@linkcode startBridges} starts the bridges the
 * configuration enables, importing the NATS bridge (src/bridge) only then.
 * `torq relay` and `torq up` are built on it.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config/mod.ts";
 * import { startBridges, startRelays } from "./mod.ts";
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

export { descriptorBudget, loggerFromConfig, runUntilSignal, startRelays } from "./relays.ts";
export type {
  DescriptorBudget,
  RelayService,
  RunUntilSignalOptions,
  StartRelaysOptions,
} from "./relays.ts";
export { natsBridgeOptions, startBridges } from "./bridges.ts";
export type { BridgeService, StartBridgesOptions } from "./bridges.ts";
export { ProcessSignals } from "./signals.ts";
export type { StopSignal } from "./signals.ts";
export {
  openDescriptors,
  openFileLimit,
  planDescriptors,
  raiseOpenFileLimit,
  SPARE_DESCRIPTORS,
} from "./fd_limit.ts";
export type { DescriptorPlan, OpenFileLimit } from "./fd_limit.ts";
export { startMallocTrim, TRIM_EVERY_MS } from "./malloc_trim.ts";
