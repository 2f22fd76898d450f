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

export { CONFIG_ENV_VARS } from "./environ.ts";
export type { ConfigEnvVar } from "./environ.ts";

export { DEFAULT_ENVIRONMENT, ENVIRONMENTS } from "./defaults.ts";
export type { EnvironmentName } from "./defaults.ts";

export {
  DEFAULT_SOCKET_DIR,
  DOMAIN_NAMES,
  DOMAIN_NUMBERS,
  LOG_FORMATS,
  LOG_LEVELS,
  MAX_MESSAGE_SIZE_LIMIT,
  SLOW_CONSUMER_POLICIES,
  SOCKET_FILE_NAMES,
  TRANSPORT_MODES,
  validationPolicy,
} from "./schema.ts";
export type {
  ExtractionStrategy,
  HttpConfig,
  LogFormat,
  LoggingConfig,
  LogLevel,
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
} from "./schema.ts";
