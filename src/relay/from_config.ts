/**
 * Builds a relay's {@linkcode RelayLogic} from its resolved configuration
 * section (`relays.<name>` of the effective config).
 *
 * @module
 */

import type { RelayConfig } from "../config/mod.ts";
import type { RelayLogic } from "./logic.ts";
import type { ExtractionStrategy } from "../protocol/mod.ts";
import type { PolicyName } from "./policy.ts";

/**
 * The logic of one relay from its configuration.
 *
 * @param config the relay's resolved section
 * @param journalPath where the audit policy journals (null: no journal file)
 * @returns the logic the engine runs
 * @example
 * ```ts
 * import { loadConfig, relayConfig } from "../config/mod.ts";
 *
 * const logic = relayLogicFromConfig(relayConfig(loadConfig(), "signal"), null);
 * logic.policy; // "standard"
 * ```
 */
export function relayLogicFromConfig(config: RelayConfig, journalPath: string | null): RelayLogic {
  const v = config.validation;
  const p = config.performance;
  const policy: PolicyName = v.audit ? "audit" : v.checksum ? "standard" : "performance";
  return {
    name: config.relay.name,
    domain: config.relay.domain,
    socketPath: config.transport.path,
    socketMode: config.transport.socket_mode,
    allowForeignDir: config.transport.allow_foreign_dir,
    policy,
    strict: v.strict,
    allowVendor: v.allow_vendor,
    strictSourceCheck: v.strict_source_check,
    maxSequenceGap: v.max_sequence_gap,
    maxFutureMs: v.max_future_ms,
    maxAgeMs: v.max_age_ms,
    maxMessageSize: v.max_message_size,
    maxConnections: p.max_connections,
    readBufferSize: p.buffer_size,
    maxQueueFrames: p.max_queue_frames,
    maxQueueBytes: p.max_queue_bytes,
    slowConsumer: p.slow_consumer,
    slowConsumerTimeoutMs: p.slow_consumer_timeout_ms,
    maxBlockMs: p.max_block_ms,
    producerStall: p.producer_stall,
    slowConsumerStallMs: p.slow_consumer_stall_ms,
    maxProducerStallMs: p.max_producer_stall_ms,
    maxStallTotalMs: p.max_stall_total_ms,
    maxGarbageBytes: p.max_garbage_bytes,
    partialFrameTimeoutMs: p.partial_frame_timeout_ms,
    writeStallTimeoutMs: p.write_stall_timeout_ms,
    idleTimeoutMs: p.idle_timeout_ms,
    echo: config.relay.echo,
    legacyDomainNumbering: config.relay.legacy_domain_numbering,
    helloMarksPublisher: config.relay.hello_marks_publisher,
    defaultTopic: config.topics.default,
    availableTopics: config.topics.available,
    autoDiscover: config.topics.auto_discover,
    extraction: extraction(config.topics.extraction_strategy),
    journalPath: policy === "audit" ? journalPath : null,
    recovery: {
      enabled: config.recovery.enabled,
      windowFrames: config.recovery.window_frames,
      windowBytes: config.recovery.window_bytes,
      lastValues: config.recovery.last_values,
    },
    journal: {
      fsync: config.journal.fsync,
      fsyncIntervalMs: config.journal.fsync_interval_ms,
      maxBytes: config.journal.max_bytes,
      keep: config.journal.keep,
      maxFailRecordsPerSecond: config.journal.max_fail_records_per_second,
    },
  };
}

function extraction(s: RelayConfig["topics"]["extraction_strategy"]): ExtractionStrategy {
  if (s === "source_type") return { kind: "source_type" };
  if (s === "instrument_venue") return { kind: "instrument_venue" };
  if ("custom_field" in s) return { kind: "custom_field", type: s.custom_field };
  return { kind: "fixed", name: s.fixed };
}
