/**
 * Domains as data: a {@linkcode RelayLogic} says everything that makes the
 * market-data, signal and execution relays differ. One generic engine
 * (`Relay`) runs any of them; nothing else is per domain.
 *
 * @module
 */

import { DEFAULT_SOCKET_PATHS, type DomainName, type ExtractionStrategy } from "../protocol/mod.ts";
import type { PolicyName } from "./policy.ts";
import type { JournalSettings } from "./journal.ts";

/** What a relay does when a consumer's queue is full (7.6). */
export type SlowConsumerPolicy = "drop" | "disconnect" | "backpressure";

/** The replay window and last values of a relay (PROTOCOL.md 7.9, D-37). */
export interface RecoverySettings {
  /** Keep a window and answer RecoveryRequest. */
  enabled: boolean;
  /** Most frames the window keeps. */
  windowFrames: number;
  /** Most bytes the window keeps. */
  windowBytes: number;
  /** Most (instrument, TLV type) last values kept (0: none). */
  lastValues: number;
}

/** A domain relay described as data. */
export interface RelayLogic {
  /** Instance name (`market_data`, `signal`, `execution`). */
  name: string;
  /** Wire domain (1–3). */
  domain: 1 | 2 | 3 | 4;
  /** Socket path. */
  socketPath: string;
  /** Socket file mode. */
  socketMode: number;
  /** Validation policy. */
  policy: PolicyName;
  /** Drop soft failures. */
  strict: boolean;
  /** Audit: accept vendor types 200–254. */
  allowVendor: boolean;
  /** Audit: canonical sources only. */
  strictSourceCheck: boolean;
  /** Audit: largest tolerated sequence gap. */
  maxSequenceGap: number;
  /** Audit: timestamp window into the future (ms). */
  maxFutureMs: number;
  /** Audit: timestamp window into the past (ms). */
  maxAgeMs: number;
  /** Whole-message limit in bytes. */
  maxMessageSize: number;
  /** Connection cap. */
  maxConnections: number;
  /** Initial read buffer per connection; grows to 256 KiB for busy producers. */
  readBufferSize: number;
  /** Per-consumer queue limit in frames. */
  maxQueueFrames: number;
  /** Per-consumer queue limit in bytes. */
  maxQueueBytes: number;
  /** Full-queue policy. */
  slowConsumer: SlowConsumerPolicy;
  /** Drop policy: disconnect after overflowing this long. */
  slowConsumerTimeoutMs: number;
  /** Backpressure policy: longest stall of producers. */
  maxBlockMs: number;
  /**
   * Flow control (7.6, D-36): pause reading producers while a consumer that keeps
   * reading has more than half of its queue limit queued.
   */
  producerStall: boolean;
  /** A consumer with no completed write for this long is not draining (and pauses nothing). */
  slowConsumerStallMs: number;
  /** Longest single pause of producers for a draining consumer. */
  maxProducerStallMs: number;
  /** Most pause time in any second. */
  maxStallTotalMs: number;
  /** Garbage tolerated without a valid frame before closing. */
  maxGarbageBytes: number;
  /** Close a connection whose frame stays incomplete this long (0: never). */
  partialFrameTimeoutMs: number;
  /** Close a consumer with frames waiting and no write completed this long (0: never). */
  writeStallTimeoutMs: number;
  /** Close a connection with nothing read or written this long (0: never, the default). */
  idleTimeoutMs: number;
  /** Write frames back to their sender too. */
  echo: boolean;
  /** Accept and emit domains 0–3 **[D-1]**. */
  legacyDomainNumbering: boolean;
  /** A first hello frame makes the connection publish-only (7.8). */
  helloMarksPublisher: boolean;
  /** Default topic. */
  defaultTopic: string;
  /** Initial topics. */
  availableTopics: readonly string[];
  /** Subscribing to an unknown exact topic creates it. */
  autoDiscover: boolean;
  /** Topic extraction strategy. */
  extraction: ExtractionStrategy;
  /** Execution journal path (audit policy only). */
  journalPath: string | null;
  /** How the journal syncs, rotates and bounds rejected frames (default: `JOURNAL_DEFAULTS`). */
  journal?: JournalSettings;
  /** The replay window and last values (7.9, D-37); absent or disabled: RecoveryRequest is forwarded. */
  recovery?: RecoverySettings;
  /** Listen in a socket directory that fails the safety check (`transport.allow_foreign_dir`). */
  allowForeignDir?: boolean;
}

const COMMON = {
  socketMode: 0o660,
  allowVendor: false,
  strictSourceCheck: false,
  maxSequenceGap: 100,
  maxFutureMs: 5_000,
  maxAgeMs: 60_000,
  maxQueueFrames: 10_000,
  maxQueueBytes: 67_108_864,
  slowConsumerTimeoutMs: 5_000,
  maxBlockMs: 100,
  producerStall: true,
  slowConsumerStallMs: 5,
  maxProducerStallMs: 5,
  maxStallTotalMs: 100,
  maxGarbageBytes: 1_048_576,
  partialFrameTimeoutMs: 10_000,
  writeStallTimeoutMs: 30_000,
  idleTimeoutMs: 0,
  echo: false,
  legacyDomainNumbering: false,
  helloMarksPublisher: true,
  journalPath: null,
} as const;

/** Market data: performance policy, drop oldest for slow consumers. */
export const MARKET_DATA_LOGIC: RelayLogic = {
  ...COMMON,
  name: "market_data",
  domain: 1,
  socketPath: DEFAULT_SOCKET_PATHS.market_data,
  policy: "performance",
  strict: false,
  maxMessageSize: 65_536,
  maxConnections: 1_000,
  readBufferSize: 65_536,
  slowConsumer: "drop",
  defaultTopic: "market_data_all",
  availableTopics: ["polygon", "ethereum", "kraken", "binance"].map((v) => `market_data_${v}`),
  autoDiscover: true,
  extraction: { kind: "source_type" },
  recovery: {
    enabled: true,
    windowFrames: 1_000_000,
    windowBytes: 67_108_864,
    lastValues: 100_000,
  },
};

/** Signal: standard policy (checksums, TLV walk), strict, drop oldest. */
export const SIGNAL_LOGIC: RelayLogic = {
  ...COMMON,
  name: "signal",
  domain: 2,
  socketPath: DEFAULT_SOCKET_PATHS.signal,
  policy: "standard",
  strict: true,
  maxMessageSize: 32_768,
  maxConnections: 100,
  readBufferSize: 32_768,
  slowConsumer: "drop",
  defaultTopic: "signals_all",
  availableTopics: ["arbitrage_signals", "trend_signals", "risk_signals"],
  autoDiscover: false,
  extraction: { kind: "source_type" },
  recovery: { enabled: true, windowFrames: 100_000, windowBytes: 16_777_216, lastValues: 0 },
};

/** Execution: audit policy with a journal; slow consumers are disconnected, never silently dropped. */
export const EXECUTION_LOGIC: RelayLogic = {
  ...COMMON,
  name: "execution",
  domain: 3,
  socketPath: DEFAULT_SOCKET_PATHS.execution,
  policy: "audit",
  strict: true,
  maxMessageSize: 16_384,
  maxConnections: 50,
  readBufferSize: 16_384,
  slowConsumer: "disconnect",
  defaultTopic: "execution_all",
  availableTopics: ["orders", "fills", "cancellations"],
  autoDiscover: false,
  extraction: { kind: "fixed", name: "execution" },
  recovery: { enabled: true, windowFrames: 100_000, windowBytes: 16_777_216, lastValues: 0 },
  journalPath: "/tmp/torq/execution.journal",
};

/** The three relays' logics by name. */
export const RELAY_LOGICS: Readonly<Record<Exclude<DomainName, "system">, RelayLogic>> = {
  market_data: MARKET_DATA_LOGIC,
  signal: SIGNAL_LOGIC,
  execution: EXECUTION_LOGIC,
};
