/**
 * What a running relay takes on SIGHUP: one table of each reloadable
 * {@linkcode RelayLogic} setting and the key of a relay's configuration
 * section it comes from. `Relay.reload()` walks its logic keys
 * ({@linkcode RELOADABLE}); the daemon's reload tells from the configuration
 * keys ({@linkcode RELOADABLE_CONFIG_KEYS}) which changes apply at once and
 * which need a restart.
 *
 * @module
 */

import type { RelayLogic } from "./logic.ts";

/** Each reloadable logic setting and its key under `relays.<name>`, in the order reloads log them. */
export const RELOADABLE_SETTINGS = {
  strict: "validation.strict",
  allowVendor: "validation.allow_vendor",
  strictSourceCheck: "validation.strict_source_check",
  maxSequenceGap: "validation.max_sequence_gap",
  maxFutureMs: "validation.max_future_ms",
  maxAgeMs: "validation.max_age_ms",
  maxMessageSize: "validation.max_message_size",
  maxConnections: "performance.max_connections",
  maxQueueFrames: "performance.max_queue_frames",
  maxQueueBytes: "performance.max_queue_bytes",
  slowConsumer: "performance.slow_consumer",
  slowConsumerTimeoutMs: "performance.slow_consumer_timeout_ms",
  maxBlockMs: "performance.max_block_ms",
  producerStall: "performance.producer_stall",
  slowConsumerStallMs: "performance.slow_consumer_stall_ms",
  maxProducerStallMs: "performance.max_producer_stall_ms",
  maxStallTotalMs: "performance.max_stall_total_ms",
  maxGarbageBytes: "performance.max_garbage_bytes",
  partialFrameTimeoutMs: "performance.partial_frame_timeout_ms",
  writeStallTimeoutMs: "performance.write_stall_timeout_ms",
  idleTimeoutMs: "performance.idle_timeout_ms",
  echo: "relay.echo",
  helloMarksPublisher: "relay.hello_marks_publisher",
} as const satisfies Partial<Record<keyof RelayLogic, string>>;

/** A reloadable logic setting. */
export type ReloadableSetting = keyof typeof RELOADABLE_SETTINGS;

/** The logic settings `Relay.reload()` applies, in table order. */
export const RELOADABLE: readonly ReloadableSetting[] = Object.keys(
  RELOADABLE_SETTINGS,
) as ReloadableSetting[];

/**
 * The keys of a relay's section a running relay takes on SIGHUP: the table's,
 * and the log level (which the daemon applies to the relay's logger).
 */
export const RELOADABLE_CONFIG_KEYS: ReadonlySet<string> = new Set([
  "logging.level",
  ...Object.values(RELOADABLE_SETTINGS),
]);
