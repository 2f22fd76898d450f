/**
 * The relay client: connect to a relay, publish frames (coalesced writes),
 * subscribe with relay-side filters, receive frames with local filters,
 * sequence-gap events, automatic reconnection and recovery from the relay's
 * replay window (`recover()`, `recovery: "auto"`); the instrument cache
 * ({@linkcode InstrumentCache}) of what the received traffic names.
 *
 * @example
 * ```ts
 * import { RelayClient } from "./mod.ts";
 *
 * await using client = await RelayClient.connect({ domain: "signal", subscribe: ["tlv.32"] });
 * for await (const frame of client) console.log(frame.sequence, frame.decode().tlvs[0]?.name);
 * ```
 *
 * @module
 */
export { RelayClient } from "./client.ts";
export { transportForPath } from "./_address.ts";
export type {
  CloseOptions,
  CloseReport,
  DomainOption,
  ReconnectOptions,
  RelayClientOptions,
  SubscribeModeName,
} from "./client.ts";
export { ReceivedFrame } from "./received_frame.ts";
export type {
  RecoverOptions,
  RecoveryResult,
  RetransmitOptions,
  SnapshotOptions,
} from "./recovery.ts";
export { InstrumentCache } from "./instrument_cache.ts";
export type {
  CachedMeta,
  CacheEntry,
  CacheEntryKind,
  InstrumentCacheOptions,
  InstrumentCacheStats,
  ObservedMessage,
} from "./instrument_cache.ts";
export { LocalFilter } from "./local_filter.ts";
export type { ByteSelector, LocalFilterOptions } from "./local_filter.ts";
export { SequenceTracker, SequenceVerdict } from "./sequence_tracker.ts";
export {
  BackpressureError,
  ClientClosedError,
  ClientErrorCode,
  ConnectError,
  RecoveryError,
  SubscribeError,
} from "./errors.ts";
export type { RecoveryErrorCode } from "./errors.ts";
export type {
  ClientStats,
  DisconnectEvent,
  DuplicateEvent,
  ErrorEvent,
  GapEvent,
  PartialEvent,
  ReconnectEvent,
  RecoveredEvent,
  RelayClientEventMap,
  RelayClientListener,
  RestartEvent,
} from "./events.ts";
