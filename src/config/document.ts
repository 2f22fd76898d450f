/**
 * The shape of Torq's configuration (PROTOCOL.md 7.10): zod schemas for the merged YAML document,
 * the resolved {@linkcode TorqConfig} type, and {@linkcode checkConfig}, which validates a merged
 * document and resolves it.
 *
 * Keys keep the YAML's snake_case spelling, so a printed configuration reads like the file.
 *
 * @module
 */

import { z } from "zod";
import { isRecord, show } from "./_util.ts";
import { describeIssue } from "./_zod.ts";
import { checkServices, resolveServices, type ServiceConfig, servicesSchema } from "./services.ts";
import { DOMAIN_NUMBERS } from "../protocol/mod.ts";

/**
 * The relays configured under `relays:`, in domain order (1, 2, 3).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 *
 * const config = loadConfig();
 * for (const name of DOMAIN_NAMES) console.log(name, config.relays[name].transport.path);
 * ```
 */
export const DOMAIN_NAMES = ["market_data", "signal", "execution"] as const;

/** Name of a configured relay: a key of `relays:`. */
export type RelayDomainName = typeof DOMAIN_NAMES[number];

/**
 * Socket file name of each relay inside `socket_dir` (PROTOCOL.md 3.4).
 *
 * @example
 * ```ts
 * SOCKET_FILE_NAMES.signal; // "signals.sock"
 * ```
 */
export const SOCKET_FILE_NAMES: Readonly<Record<RelayDomainName, string>> = {
  market_data: "market_data.sock",
  signal: "signals.sock",
  execution: "execution.sock",
};

/**
 * Socket directory used when `socket_dir` is null (PROTOCOL.md 3.4).
 *
 * @example
 * ```ts
 * `${DEFAULT_SOCKET_DIR}/${SOCKET_FILE_NAMES.execution}`; // "/tmp/torq/execution.sock"
 * ```
 */
export const DEFAULT_SOCKET_DIR = "/tmp/torq";

/**
 * Largest whole message the protocol allows (PROTOCOL.md 2.5); the upper bound of
 * `validation.max_message_size`.
 *
 * @example
 * ```ts
 * MAX_MESSAGE_SIZE_LIMIT; // 1048576
 * ```
 */
export const MAX_MESSAGE_SIZE_LIMIT = 1_048_576;

/**
 * Accepted `logging.level` values, least severe first.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 *
 * const config = loadConfig();
 * LOG_LEVELS.indexOf("warn") >= LOG_LEVELS.indexOf(config.logging.level);
 * ```
 */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** A `logging.level` value. */
export type LogLevel = typeof LOG_LEVELS[number];

/**
 * Accepted `logging.format` values.
 *
 * @example
 * ```ts
 * LOG_FORMATS.includes("json"); // true
 * ```
 */
export const LOG_FORMATS = ["text", "json"] as const;
/** A `logging.format` value. */
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * Accepted `transport.mode` values (only `unix_socket` is implemented by the reference).
 *
 * @example
 * ```ts
 * TRANSPORT_MODES[0]; // "unix_socket"
 * ```
 */
export const TRANSPORT_MODES = ["unix_socket", "tcp", "udp", "message_queue", "topology"] as const;
/** A `transport.mode` value. */
export type TransportMode = typeof TRANSPORT_MODES[number];

/**
 * Accepted `performance.slow_consumer` values (PROTOCOL.md 7.6); `backpressure` only on the
 * execution relay.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 *
 * const config = loadConfig();
 * SLOW_CONSUMER_POLICIES.includes(config.relays.execution.performance.slow_consumer); // true
 * ```
 */
export const SLOW_CONSUMER_POLICIES = ["drop", "disconnect", "backpressure"] as const;
/** A `performance.slow_consumer` value. */
export type SlowConsumerPolicy = typeof SLOW_CONSUMER_POLICIES[number];

/**
 * Accepted `bridge.nats.direction` values: `out` publishes the relay's accepted frames to NATS,
 * `in` feeds frames from NATS into the relay, `both` does both.
 *
 * @example
 * ```ts
 * BRIDGE_DIRECTIONS.includes("both"); // true
 * ```
 */
export const BRIDGE_DIRECTIONS = ["out", "in", "both"] as const;
/** A `bridge.nats.direction` value. */
export type BridgeDirection = typeof BRIDGE_DIRECTIONS[number];

/**
 * Accepted `bridge.nats.jetstream.storage` values.
 *
 * @example
 * ```ts
 * JETSTREAM_STORAGE[0]; // "file"
 * ```
 */
export const JETSTREAM_STORAGE = ["file", "memory"] as const;
/** A `bridge.nats.jetstream.storage` value. */
export type JetStreamStorage = typeof JETSTREAM_STORAGE[number];

/** How a relay derives a frame's topic (PROTOCOL.md 7.8, `topics.extraction_strategy`). */
export type ExtractionStrategy =
  | "source_type"
  | "instrument_venue"
  | { readonly custom_field: number }
  | { readonly fixed: string };

/** The validation policy selected by a relay's `validation` flags (PROTOCOL.md 7.5). */
export type ValidationPolicy = "performance" | "standard" | "audit";

/** Shared `logging` section, also the resolved per-relay `logging`. */
export interface LoggingConfig {
  /** Lowest level written. */
  level: LogLevel;
  /** `text` lines or JSON lines. */
  format: LogFormat;
  /** File to append to; null means standard error. */
  file: string | null;
}

/** `http` section: the HTTP API and dashboard. */
export interface HttpConfig {
  /** `host:port` to listen on; port 0 picks a free port. */
  listen: string;
  /** Bearer token required by the API; null means none. */
  token: string | null;
  /**
   * Host names (`name` or `name:port`) answered besides the loopback ones; other `Host`s get
   * 403 while listening on loopback or when this is not empty (DNS rebinding).
   */
  allowed_hosts: string[];
  /** Connections held at most. */
  max_connections: number;
  /** Time to receive a request's line and headers, in ms. */
  header_timeout_ms: number;
  /** Time a kept-alive connection may wait for its next request, in ms. */
  idle_timeout_ms: number;
}

/** `relays.<name>.relay` section. */
export interface RelaySection {
  /** Wire domain: 1, 2 or 3, matching the relay's name. */
  domain: 1 | 2 | 3;
  /** Instance name. */
  name: string;
  /** Free text. */
  description: string;
  /** Write frames back to their sender too (PROTOCOL.md 7.3). */
  echo: boolean;
  /** Accept and emit the 0–3 domain numbering (PROTOCOL.md 3.1). */
  legacy_domain_numbering: boolean;
  /** A connection whose first frame is a hello is publish-only (PROTOCOL.md 7.8). */
  hello_marks_publisher: boolean;
}

/** `relays.<name>.transport` section, resolved. */
export interface TransportSection {
  /** Transport kind. */
  mode: TransportMode;
  /** Socket path: the configured one, else `<socket_dir>/<default file name>`. */
  path: string;
  /** Permission bits of the socket file (e.g. `0o660`). */
  socket_mode: number;
  /** Network address for tcp/udp; null means loopback. */
  address: string | null;
  /** Network port for tcp/udp. */
  port: number | null;
  /** Placeholder for a topology service. */
  use_topology: boolean;
  /** Reference key, accepted and unused. */
  buffer_size: number | null;
  /**
   * Use a socket directory that is a symlink, owned by another user, or writable by group or
   * others without the sticky bit (normally refused; see `checkSocketDir`).
   */
  allow_foreign_dir: boolean;
  /**
   * Accept a `socket_mode` writable by others (e.g. `"0666"`): every local user could then
   * publish and subscribe (normally refused; see `checkSocketMode`).
   */
  allow_world_socket: boolean;
}

/** `relays.<name>.validation` section (PROTOCOL.md 7.5). */
export interface ValidationSection {
  /** Verify non-zero checksums. */
  checksum: boolean;
  /** Audit policy. */
  audit: boolean;
  /** Drop soft failures instead of forwarding them with a warning. */
  strict: boolean;
  /** Whole-message byte limit. */
  max_message_size: number;
  /** Audit: accept vendor TLV types 200–254. */
  allow_vendor: boolean;
  /** Audit: reject every source outside the canonical table. */
  strict_source_check: boolean;
  /** Audit: largest sequence jump that is not a soft `SequenceGap`. */
  max_sequence_gap: number;
  /** Audit: how far ahead of now a timestamp may be, in milliseconds. */
  max_future_ms: number;
  /** Audit: how old a timestamp may be, in milliseconds. */
  max_age_ms: number;
}

/** `relays.<name>.topics` section (PROTOCOL.md 7.8). */
export interface TopicsSection {
  /** Fallback topic. */
  default: string;
  /** Topics registered at start. */
  available: string[];
  /** Create unknown topics on subscribe. */
  auto_discover: boolean;
  /** How a frame's topic is derived. */
  extraction_strategy: ExtractionStrategy;
  /** Reference key, accepted and unused. */
  cleanup_interval_ms: number | null;
}

/** `relays.<name>.performance` section (PROTOCOL.md 7.6, 7.10). */
export interface PerformanceSection {
  /** Messages per second goal, informational. */
  target_throughput: number;
  /** Read buffer bytes. */
  buffer_size: number;
  /** Connection cap (a `relay.max_connections` in the same layer wins over this key). */
  max_connections: number;
  /** Frames per batch. */
  batch_size: number;
  /** Keep and expose metrics. */
  monitoring: boolean;
  /** Reference key, accepted and unused. */
  max_latency_ms: number | null;
  /** Per-consumer queue limit in frames. */
  max_queue_frames: number;
  /** Per-consumer queue limit in bytes. */
  max_queue_bytes: number;
  /** What happens when a consumer's queue is full. */
  slow_consumer: SlowConsumerPolicy;
  /** `drop`: disconnect a consumer that keeps overflowing this long. */
  slow_consumer_timeout_ms: number;
  /** `backpressure`: longest stall of producers before disconnecting the consumer. */
  max_block_ms: number;
  /** Flow control (7.6, D-36): pause producers for a draining consumer over half its queue. */
  producer_stall: boolean;
  /** A consumer with no completed write for this long is not draining. */
  slow_consumer_stall_ms: number;
  /** Longest single pause of producers. */
  max_producer_stall_ms: number;
  /** Most pause time in any second. */
  max_stall_total_ms: number;
  /** Close a connection after this many bytes without a valid frame. */
  max_garbage_bytes: number;
  /** Close a connection whose frame stays incomplete this long (0: never). */
  partial_frame_timeout_ms: number;
  /** Close a consumer with frames waiting and no write completed this long (0: never). */
  write_stall_timeout_ms: number;
  /** Close a connection with nothing read or written this long (0: never). */
  idle_timeout_ms: number;
}

/**
 * Accepted `journal.fsync` values: `always` (after every batch, before forwarding), `interval`
 * (in the background every `fsync_interval_ms`), `never` (left to the operating system).
 *
 * @example
 * ```ts
 * FSYNC_POLICIES.includes("interval"); // true
 * ```
 */
export const FSYNC_POLICIES = ["always", "interval", "never"] as const;
/** A `journal.fsync` value. */
export type FsyncPolicy = typeof FSYNC_POLICIES[number];

/** `relays.<name>.journal` section: the execution journal of an audited relay (PROTOCOL.md 7.5, 7.9). */
export interface JournalSection {
  /** The live file; null: `<relay name>.journal` beside the relay's socket. */
  path: string | null;
  /** When the journal's data is flushed to the disk. */
  fsync: FsyncPolicy;
  /** `interval`: how often, in ms. */
  fsync_interval_ms: number;
  /** Start a new file when the live one would pass this many bytes. */
  max_bytes: number;
  /** Rotated files kept beside the live one (`<path>.1` … `<path>.<keep>`). */
  keep: number;
  /** FAIL records stored per second (CONTROL records have a bound of the same size); null: no bound. */
  max_fail_records_per_second: number | null;
}

/** `relays.<name>.recovery` section: the replay window and last values (PROTOCOL.md 7.9, D-37). */
export interface RecoverySection {
  /** Keep a window and answer RecoveryRequest (false: forward RecoveryRequest like any frame). */
  enabled: boolean;
  /** Most frames the replay window keeps. */
  window_frames: number;
  /** Most bytes the replay window keeps. */
  window_bytes: number;
  /** Most (instrument, TLV type) last values kept (0: none; market data). */
  last_values: number;
}

/** `relays.<name>.bridge.nats.jetstream` resolved (`true` or a mapping; defaults filled in). */
export interface JetStreamSection {
  /** Stream name; null: `TORQ_<DOMAIN>` (e.g. `TORQ_EXECUTION`). Created when missing. */
  stream: string | null;
  /** Storage of a stream the bridge creates. */
  storage: JetStreamStorage;
  /** Durable consumer of the `in` side; null: `torq_<relay name>_<host name>`. */
  durable: string | null;
  /** Duplicate window of a stream the bridge creates, in ms. */
  duplicate_window_ms: number;
  /** How long one publish waits for its acknowledgement before it is retried, in ms. */
  ack_timeout_ms: number;
}

/** `relays.<name>.bridge.nats` section (PROTOCOL.md 7.12). */
export interface NatsBridgeSection {
  /** Run the bridge. */
  enabled: boolean;
  /** NATS server URLs (`nats://host:port`). */
  servers: string[];
  /** Subjects are `<subject_prefix>.<domain>` (`torq.market_data`, `torq.signals`, `torq.execution`). */
  subject_prefix: string;
  /** Core out: publish to `<prefix>.<domain>.<topic>` with the relay's extracted topic. */
  subject_topic: boolean;
  /** `out`, `in` or `both`. */
  direction: BridgeDirection;
  /** Authentication token, or null. */
  token: string | null;
  /** User name (with `password`), or null. */
  user: string | null;
  /** Password, or null. */
  password: string | null;
  /** NATS credentials file (JWT + seed), or null. */
  creds_file: string | null;
  /** JetStream (acknowledged, de-duplicated) instead of core NATS; null (or `false` in a file): core. */
  jetstream: JetStreamSection | null;
  /** First reconnect delay, in ms (doubles per attempt). */
  reconnect_initial_ms: number;
  /** Largest reconnect delay, in ms. */
  reconnect_max_ms: number;
  /** JetStream: outbound frames buffered while unacknowledged before the relay is made to wait. */
  max_pending_frames: number;
}

/** `relays.<name>.bridge` section. */
export interface BridgeSection {
  /** The NATS bridge of this relay. */
  nats: NatsBridgeSection;
}

/** Everything one relay needs, resolved: `relays.<name>` of a {@linkcode TorqConfig}. */
export interface RelayConfig {
  /** Identity and behaviour switches. */
  relay: RelaySection;
  /** Where and how to listen. */
  transport: TransportSection;
  /** Validation policy flags and limits. */
  validation: ValidationSection;
  /** Topic registry and extraction. */
  topics: TopicsSection;
  /** Limits, queues, slow-consumer policy. */
  performance: PerformanceSection;
  /** The shared logging section with this relay's overrides applied. */
  logging: LoggingConfig;
  /** Bridges to message buses. */
  bridge: BridgeSection;
  /** The execution journal (written under the audit policy only). */
  journal: JournalSection;
  /** The replay window and last values. */
  recovery: RecoverySection;
}

/** The effective configuration: every layer merged, validated and resolved. */
export interface TorqConfig {
  /** Directory of the default socket paths (null in the file resolves to `/tmp/torq`). */
  socket_dir: string;
  /** Shared logging settings. */
  logging: LoggingConfig;
  /** HTTP API settings. */
  http: HttpConfig;
  /** Extra schema YAML files. */
  schemas: string[];
  /** The three relays. */
  relays: Record<RelayDomainName, RelayConfig>;
  /** Reserved for settings shared by bridges; kept as given (each relay's bridge is `relays.<name>.bridge`). */
  bridge: Record<string, unknown>;
  /** The team's own processes `torq up` runs after the relays, by name in file order. */
  services: Record<string, ServiceConfig>;
}

/** One problem found by {@linkcode checkConfig}, before it is located in a file. */
export interface ConfigProblem {
  /** Path of the offending key or value inside the document. */
  path: (string | number)[];
  /** What is wrong, e.g. `expected boolean, got "yes"`. */
  message: string;
  /** Whether the problem is the key itself (unknown key) rather than its value. */
  at: "key" | "value";
}

/** Result of {@linkcode checkConfig}. */
export type CheckResult =
  | { ok: true; config: TorqConfig }
  | { ok: false; problems: ConfigProblem[] };

// ---------------------------------------------------------------------------------------------
// Schemas of the merged document (before resolution).

/**
 * Schema of the merged configuration document (all layers), before resolution: `transport.path`
 * and `socket_dir` may be null, `socket_mode` may be a string.
 *
 * Built on each call and not kept: zod schemas are large objects (this one
 * holds about 2 MB of heap), and a running relay checks its configuration only
 * at start and on a reload.
 */
function documentSchema() {
  const _int = (min: number, max: number = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max);
  const _name = z.string().min(1);

  const _socketMode = z.custom<number | string>().superRefine((value, ctx) => {
    if (_parseSocketMode(value) === undefined) {
      const hint = typeof value === "number" && /^[0-7]{3}$/.test(String(value))
        ? `; a number is taken as written, so ${value} is not 0o${value}: write "0${value}" or 0o${value}`
        : "";
      ctx.addIssue({
        code: "custom",
        message: `expected permission bits such as "0660" or 0o660, got ${show(value)}${hint}`,
      });
    }
  });

  const _listen = z.custom<string>().superRefine((value, ctx) => {
    if (typeof value !== "string") {
      ctx.addIssue({ code: "custom", message: `expected string, got ${show(value)}` });
    } else if (_parseListen(value) === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `expected "host:port" with a port from 0 to 65535, got ${show(value)}`,
      });
    }
  });

  const _hostName = z.custom<string>().superRefine((value, ctx) => {
    if (typeof value !== "string" || !/^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/]+)(:\d{1,5})?$/.test(value)) {
      ctx.addIssue({
        code: "custom",
        message: `expected a host name such as "torq.example" or "torq.example:7420", got ${
          show(value)
        }`,
      });
    }
  });

  const _STRATEGY_FORMS =
    `"source_type", "instrument_venue", {custom_field: <TLV type>} or {fixed: "<topic>"}`;

  const _extractionStrategy = z.custom<ExtractionStrategy>().superRefine((input, ctx) => {
    const value: unknown = input;
    if (value === "source_type" || value === "instrument_venue") return;
    if (isRecord(value)) {
      const keys = Object.keys(value);
      if (keys.length === 1 && keys[0] === "custom_field") {
        const n = value["custom_field"];
        if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 254) {
          ctx.addIssue({
            code: "custom",
            message: `expected a TLV type from 1 to 254, got ${show(n)}`,
            path: ["custom_field"],
          });
        }
        return;
      }
      if (keys.length === 1 && keys[0] === "fixed") {
        const name = value["fixed"];
        if (typeof name !== "string" || name.length === 0) {
          ctx.addIssue({
            code: "custom",
            message: `expected a non-empty topic name, got ${show(name)}`,
            path: ["fixed"],
          });
        }
        return;
      }
    }
    ctx.addIssue({ code: "custom", message: `expected ${_STRATEGY_FORMS}, got ${show(value)}` });
  });

  const _natsServer = z.custom<string>().superRefine((value, ctx) => {
    if (
      typeof value !== "string" ||
      !/^nats:\/\/(?:[^@/\s]+@)?(\[[^\]]+\]|[^:/\s]+)(?::\d{1,5})?$/i.test(value)
    ) {
      ctx.addIssue({ code: "custom", message: `expected "nats://HOST:PORT", got ${show(value)}` });
    }
  });

  const _subjectPrefix = z.custom<string>().superRefine((value, ctx) => {
    if (typeof value !== "string" || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value)) {
      ctx.addIssue({
        code: "custom",
        message: `expected subject tokens such as "torq" or "site1.torq", got ${show(value)}`,
      });
    }
  });

  const _JETSTREAM_KEYS: Readonly<Record<keyof JetStreamSection, string>> = {
    stream: "a stream name or null",
    storage: `"file" or "memory"`,
    durable: "a consumer name or null",
    duplicate_window_ms: "an integer of at least 1",
    ack_timeout_ms: "an integer of at least 1",
  };

  const _jetstream = z.custom<boolean | null | Record<string, unknown>>().superRefine(
    (value, ctx) => {
      if (typeof value === "boolean" || value === null) return;
      if (!isRecord(value)) {
        ctx.addIssue({
          code: "custom",
          message:
            `expected true, false, null or a mapping (stream, storage, durable, duplicate_window_ms,` +
            ` ack_timeout_ms), got ${show(value)}`,
        });
        return;
      }
      for (const [key, v] of Object.entries(value)) {
        const expected = (_JETSTREAM_KEYS as Record<string, string>)[key];
        if (expected === undefined) {
          ctx.addIssue({ code: "unrecognized_keys", keys: [key], input: value });
          continue;
        }
        const ok = key === "storage"
          ? (JETSTREAM_STORAGE as readonly unknown[]).includes(v)
          : key === "stream" || key === "durable"
          ? v === null || (typeof v === "string" && /^[A-Za-z0-9_-]+$/.test(v))
          : typeof v === "number" && Number.isInteger(v) && v >= 1;
        if (!ok) {
          ctx.addIssue({
            code: "custom",
            message: `expected ${expected}, got ${show(v)}`,
            path: [key],
          });
        }
      }
    },
  );

  const _natsBridgeSchema = z.strictObject({
    enabled: z.boolean(),
    servers: z.array(_natsServer),
    subject_prefix: _subjectPrefix,
    subject_topic: z.boolean(),
    direction: z.enum(BRIDGE_DIRECTIONS),
    token: _name.nullable(),
    user: _name.nullable(),
    password: _name.nullable(),
    creds_file: _name.nullable(),
    jetstream: _jetstream,
    reconnect_initial_ms: _int(1),
    reconnect_max_ms: _int(1),
    max_pending_frames: _int(1),
  });

  const _loggingSchema = z.strictObject({
    level: z.enum(LOG_LEVELS),
    format: z.enum(LOG_FORMATS),
    file: _name.nullable(),
  });

  const _relayLoggingSchema = z.strictObject({
    level: z.enum(LOG_LEVELS).optional(),
    format: z.enum(LOG_FORMATS).optional(),
    file: _name.nullable().optional(),
  });

  function _relaySchema(name: RelayDomainName) {
    const slowConsumer = name === "execution"
      ? z.enum(SLOW_CONSUMER_POLICIES)
      : z.enum(["drop", "disconnect"]);
    return z.strictObject({
      relay: z.strictObject({
        domain: z.literal(DOMAIN_NUMBERS[name]),
        name: _name,
        description: z.string(),
        max_connections: _int(1).nullable().optional(),
        echo: z.boolean(),
        legacy_domain_numbering: z.boolean(),
        hello_marks_publisher: z.boolean(),
      }),
      transport: z.strictObject({
        mode: z.enum(TRANSPORT_MODES),
        path: _name.nullable(),
        socket_mode: _socketMode,
        address: _name.nullable(),
        port: _int(0, 65535).nullable(),
        use_topology: z.boolean(),
        buffer_size: _int(1).nullable(),
        allow_foreign_dir: z.boolean(),
        allow_world_socket: z.boolean(),
      }),
      validation: z.strictObject({
        checksum: z.boolean(),
        audit: z.boolean(),
        strict: z.boolean(),
        max_message_size: _int(32, MAX_MESSAGE_SIZE_LIMIT),
        allow_vendor: z.boolean(),
        strict_source_check: z.boolean(),
        max_sequence_gap: _int(0),
        max_future_ms: _int(0),
        max_age_ms: _int(0),
      }),
      topics: z.strictObject({
        default: _name,
        available: z.array(_name),
        auto_discover: z.boolean(),
        extraction_strategy: _extractionStrategy,
        cleanup_interval_ms: _int(0).nullable(),
      }),
      performance: z.strictObject({
        target_throughput: _int(0),
        buffer_size: _int(32),
        max_connections: _int(1),
        batch_size: _int(1),
        monitoring: z.boolean(),
        max_latency_ms: _int(0).nullable(),
        max_queue_frames: _int(1),
        max_queue_bytes: _int(1),
        slow_consumer: slowConsumer,
        slow_consumer_timeout_ms: _int(0),
        max_block_ms: _int(0),
        producer_stall: z.boolean(),
        slow_consumer_stall_ms: _int(0),
        max_producer_stall_ms: _int(0),
        max_stall_total_ms: _int(0).max(1000),
        max_garbage_bytes: _int(0),
        partial_frame_timeout_ms: _int(0),
        write_stall_timeout_ms: _int(0),
        idle_timeout_ms: _int(0),
      }),
      logging: _relayLoggingSchema,
      bridge: z.strictObject({ nats: _natsBridgeSchema }),
      journal: z.strictObject({
        path: _name.nullable(),
        fsync: z.enum(FSYNC_POLICIES),
        fsync_interval_ms: _int(1, 60_000),
        max_bytes: _int(4096),
        keep: _int(1, 1000),
        max_fail_records_per_second: _int(0).nullable(),
      }),
      recovery: z.strictObject({
        enabled: z.boolean(),
        window_frames: _int(1),
        window_bytes: _int(4096),
        last_values: _int(0, 10_000_000),
      }),
    });
  }

  return z.strictObject({
    socket_dir: _name.nullable(),
    logging: _loggingSchema,
    http: z.strictObject({
      listen: _listen,
      token: _name.nullable(),
      allowed_hosts: z.array(_hostName),
      max_connections: _int(1, 1_000_000),
      header_timeout_ms: _int(100),
      idle_timeout_ms: _int(100),
    }),
    schemas: z.array(_name),
    relays: z.strictObject({
      market_data: _relaySchema("market_data"),
      signal: _relaySchema("signal"),
      execution: _relaySchema("execution"),
    }),
    bridge: z.record(z.string(), z.unknown()),
    services: servicesSchema(),
  });
}

/** The merged document as validated by {@linkcode documentSchema}. */
export type ConfigDocument = z.output<ReturnType<typeof documentSchema>>;

// ---------------------------------------------------------------------------------------------

/**
 * Validate a merged configuration document and resolve it into a {@linkcode TorqConfig}:
 * default socket paths from `socket_dir`, `socket_mode` as a number, per-relay logging filled from
 * the shared section. Every problem is returned, not only the first; cross-field checks (queue
 * sizes, duplicate socket paths, ports) run once the types are right.
 *
 * @param document the merged document (plain data, e.g. from a YAML file)
 * @returns the resolved configuration, or the problems found
 * @example
 * ```ts
 * const result = checkConfig({ socket_dir: 42 });
 * if (!result.ok) console.log(result.problems[0]?.message);
 * ```
 */
export function checkConfig(document: unknown): CheckResult {
  const schema = documentSchema();
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, document, schema));
    return { ok: false, problems };
  }
  const config = _resolve(parsed.data);
  const problems = _crossCheck(config);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, config };
}

/**
 * The validation policy a relay's flags select (PROTOCOL.md 7.5): `audit` when `audit` is set,
 * else `standard` when `checksum` is set, else `performance`.
 *
 * @param validation a relay's `validation` section
 * @returns the policy name
 * @example
 * ```ts
 * validationPolicy({ checksum: true, audit: false }); // "standard"
 * ```
 */
export function validationPolicy(
  validation: Pick<ValidationSection, "checksum" | "audit">,
): ValidationPolicy {
  if (validation.audit) return "audit";
  return validation.checksum ? "standard" : "performance";
}

function _resolve(doc: ConfigDocument): TorqConfig {
  const socketDir = doc.socket_dir ?? DEFAULT_SOCKET_DIR;
  const relays = {} as Record<RelayDomainName, RelayConfig>;
  for (const name of DOMAIN_NAMES) {
    const r = doc.relays[name];
    const { max_connections: _folded, ...relay } = r.relay;
    const logging: LoggingConfig = { ...doc.logging };
    if (r.logging.level !== undefined) logging.level = r.logging.level;
    if (r.logging.format !== undefined) logging.format = r.logging.format;
    if (r.logging.file !== undefined) logging.file = r.logging.file;
    relays[name] = {
      relay,
      transport: {
        ...r.transport,
        path: r.transport.path ?? _joinPath(socketDir, SOCKET_FILE_NAMES[name]),
        socket_mode: _parseSocketMode(r.transport.socket_mode) ?? 0o660,
      },
      validation: { ...r.validation },
      topics: { ...r.topics, available: [...r.topics.available] },
      performance: {
        ...r.performance,
        // The reference key wins over the performance key (PROTOCOL.md 7.10). The loader folds it
        // into performance.max_connections layer by layer, so a higher layer can still override.
        max_connections: r.relay.max_connections ?? r.performance.max_connections,
      },
      logging,
      bridge: { nats: _resolveNats(r.bridge.nats) },
      journal: { ...r.journal },
      recovery: { ...r.recovery },
    };
  }
  return {
    socket_dir: socketDir,
    logging: { ...doc.logging },
    http: { ...doc.http, allowed_hosts: [...doc.http.allowed_hosts] },
    schemas: [...doc.schemas],
    relays,
    bridge: structuredClone(doc.bridge),
    services: resolveServices(doc.services),
  };
}

function _resolveNats(n: ConfigDocument["relays"]["signal"]["bridge"]["nats"]): NatsBridgeSection {
  const js = n.jetstream;
  let jetstream: JetStreamSection | null = null;
  if (js !== false && js !== null) {
    const given = isRecord(js) ? js : {};
    jetstream = {
      stream: (given["stream"] as string | null | undefined) ?? null,
      storage: (given["storage"] as JetStreamStorage | undefined) ?? "file",
      durable: (given["durable"] as string | null | undefined) ?? null,
      duplicate_window_ms: (given["duplicate_window_ms"] as number | undefined) ?? 120_000,
      ack_timeout_ms: (given["ack_timeout_ms"] as number | undefined) ?? 5_000,
    };
  }
  return { ...n, servers: [...n.servers], jetstream };
}

function _crossCheck(config: TorqConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const paths = new Map<string, RelayDomainName>();
  for (const name of DOMAIN_NAMES) {
    const { transport, validation, performance, bridge } = config.relays[name];
    const at = (section: string, key: string) => ["relays", name, section, key];
    const nats = bridge.nats;
    const natsAt = (key: string) => ["relays", name, "bridge", "nats", key];
    if (nats.enabled && nats.servers.length === 0) {
      problems.push({
        path: natsAt("servers"),
        message: "expected at least one server when the bridge is enabled, got an empty list",
        at: "value",
      });
    }
    if ((nats.user === null) !== (nats.password === null)) {
      problems.push({
        path: natsAt(nats.user === null ? "user" : "password"),
        message: `expected user and password together, got only ${
          nats.user === null ? "password" : "user"
        }`,
        at: "value",
      });
    }
    if (nats.reconnect_max_ms < nats.reconnect_initial_ms) {
      problems.push({
        path: natsAt("reconnect_max_ms"),
        message: `expected at least reconnect_initial_ms (${nats.reconnect_initial_ms}),` +
          ` got ${nats.reconnect_max_ms}`,
        at: "value",
      });
    }
    if (performance.max_queue_bytes < validation.max_message_size) {
      problems.push({
        path: at("performance", "max_queue_bytes"),
        message: `expected at least validation.max_message_size (${validation.max_message_size}),` +
          ` got ${performance.max_queue_bytes}`,
        at: "value",
      });
    }
    if ((transport.mode === "tcp" || transport.mode === "udp") && transport.port === null) {
      problems.push({
        path: at("transport", "port"),
        message: `expected a port for transport.mode "${transport.mode}", got null`,
        at: "value",
      });
    }
    if (transport.mode === "unix_socket") {
      const other = paths.get(transport.path);
      if (other !== undefined) {
        problems.push({
          path: at("transport", "path"),
          message: `socket path ${show(transport.path)} is also used by the ${other} relay`,
          at: "value",
        });
      } else {
        paths.set(transport.path, name);
      }
    }
  }
  problems.push(...checkServices(config.services, DOMAIN_NAMES));
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Small parsers.

// `"0660"`, `"660"`, `"0o660"` or a number up to 0o777 → permission bits; else undefined.
function _parseSocketMode(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 0 && value <= 0o777 ? value : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^(?:0o?)?([0-7]{1,3})$/i.exec(value.trim());
  return match?.[1] === undefined ? undefined : parseInt(match[1], 8);
}

// `host:port` or `[v6]:port` with port 0–65535 → its parts; else undefined.
function _parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:\[\]]+):(\d{1,5})$/.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const port = Number(match[2]);
  return port <= 65535 ? { host: match[1], port } : undefined;
}

function _joinPath(dir: string, file: string): string {
  return dir.endsWith("/") ? `${dir}${file}` : `${dir}/${file}`;
}
