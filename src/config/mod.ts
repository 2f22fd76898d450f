/**
 * Torq's configuration: the three relays (market data, signal, execution) and the shared
 * `logging`, `http`, `schemas` and `bridge` sections (PROTOCOL.md 7.10).
 *
 * `config/default.yaml` and the environment overlays are embedded in the program (imported as
 * text); {@linkcode loadConfig} layers them with the user's file, `TORQ_*` environment variables
 * and command-line overrides, validates the result and reports every problem with its path and
 * line.
 *
 * @example
 * ```ts
 * import { loadConfig, relayConfig } from "./mod.ts";
 *
 * const config = loadConfig({ env: "production", environ: Deno.env.toObject() });
 * relayConfig(config, "execution").validation.audit; // true
 * ```
 *
 * @module
 */

export { formatConfig, loadConfig, parseConfigText, relayConfig } from "./loader.ts";
export type { FormatConfigOptions, LoadConfigOptions } from "./loader.ts";
export { parseOverrides } from "./overrides.ts";

export { ConfigError, formatIssue } from "./errors.ts";
export type { ConfigIssue } from "./errors.ts";

export {
  formatSchemaIssue,
  loadSchemaFiles,
  parseSchemaText,
  SchemaFileError,
} from "./tlv_schema_files.ts";
export type { LoadSchemaOptions } from "./tlv_schema_files.ts";

export {
  RESERVED_SERVICE_NAMES,
  RESTART_POLICIES,
  SERVICE_DEFAULTS,
  serviceStartOrder,
  STOP_SIGNALS,
} from "./services.ts";
export type { RestartPolicy, ServiceConfig, StopSignal } from "./services.ts";

export { CONFIG_ENV_VARS } from "./environ.ts";
export type { ConfigEnvVar } from "./environ.ts";

export { DEFAULT_ENVIRONMENT, ENVIRONMENTS } from "./defaults.ts";
export type { EnvironmentName } from "./defaults.ts";

export {
  BRIDGE_DIRECTIONS,
  DEFAULT_SOCKET_DIR,
  DOMAIN_NAMES,
  FSYNC_POLICIES,
  JETSTREAM_STORAGE,
  LOG_FORMATS,
  LOG_LEVELS,
  MAX_MESSAGE_SIZE_LIMIT,
  SLOW_CONSUMER_POLICIES,
  SOCKET_FILE_NAMES,
  TRANSPORT_MODES,
  validationPolicy,
} from "./document.ts";
export type {
  BridgeDirection,
  BridgeSection,
  ExtractionStrategy,
  FsyncPolicy,
  HttpConfig,
  JetStreamSection,
  JetStreamStorage,
  JournalSection,
  LogFormat,
  LoggingConfig,
  LogLevel,
  NatsBridgeSection,
  PerformanceSection,
  RelayConfig,
  RelayDomainName,
  RelaySection,
  SlowConsumerPolicy,
  TopicsSection,
  TorqConfig,
  TransportMode,
  TransportSection,
  ValidationPolicy,
  ValidationSection,
} from "./document.ts";
