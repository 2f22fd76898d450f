/**
 * The environment-variable layer of the configuration (PROTOCOL.md 7.5, 7.10).
 *
 * Variables are read from a plain record passed in by the caller (the CLI passes
 * `Deno.env.toObject()`), so tests need no real environment. Empty values count as unset.
 *
 * @module
 */

import { dottedPath, show } from "./_util.ts";
import type { KeyPath } from "./_util.ts";
import type { ConfigIssue } from "./errors.ts";
import { DOMAIN_NAMES, LOG_FORMATS, LOG_LEVELS } from "./document.ts";
import type { RelayDomainName } from "./document.ts";

/**
 * The environment variables the loader reads, with what each one sets.
 *
 * @example
 * ```ts
 * for (const [name, meaning] of Object.entries(CONFIG_ENV_VARS)) console.log(name, meaning);
 * ```
 */
export const CONFIG_ENV_VARS = {
  TORQ_ENV: "environment overlay: development (default), staging or production",
  TORQ_SOCKET_DIR: "socket_dir",
  TORQ_LOG_LEVEL: "logging.level (debug, info, warn, error)",
  TORQ_LOG_FORMAT: "logging.format (text, json)",
  TORQ_HTTP_LISTEN: "http.listen (host:port)",
  TORQ_HTTP_TOKEN: "http.token",
  TORQ_MAX_MESSAGE_SIZE_MARKET: "relays.market_data.validation.max_message_size (bytes)",
  TORQ_MAX_MESSAGE_SIZE_SIGNAL: "relays.signal.validation.max_message_size (bytes)",
  TORQ_MAX_MESSAGE_SIZE_EXECUTION: "relays.execution.validation.max_message_size (bytes)",
  TORQ_TIMESTAMP_MAX_DRIFT: "relays.*.validation.max_future_ms (given in seconds)",
  TORQ_SEQUENCE_MAX_GAP: "relays.*.validation.max_sequence_gap",
} as const;

/** A variable the loader reads. */
export type ConfigEnvVar = keyof typeof CONFIG_ENV_VARS;

/** The configuration values set by environment variables. */
export interface EnvironLayer {
  /** A partial configuration document. */
  data: Record<string, unknown>;
  /** Dotted path of every value set → the variable that set it. */
  origins: Map<string, ConfigEnvVar>;
  /** Variables whose value could not be converted (other checks happen after merging). */
  issues: ConfigIssue[];
}

const _MESSAGE_SIZE_VARS: Readonly<Record<RelayDomainName, ConfigEnvVar>> = {
  market_data: "TORQ_MAX_MESSAGE_SIZE_MARKET",
  signal: "TORQ_MAX_MESSAGE_SIZE_SIGNAL",
  execution: "TORQ_MAX_MESSAGE_SIZE_EXECUTION",
};

/**
 * Build the configuration layer set by `TORQ_*` environment variables.
 *
 * Strings are taken as given (log level and format in any case) and checked with the rest of the
 * configuration; numbers are converted here, and a value that is not a number is an issue naming
 * its variable.
 *
 * @param environ the environment, e.g. `Deno.env.toObject()`
 * @returns the partial document, where each value came from, and conversion issues
 * @example
 * ```ts
 * const layer = environLayer({ TORQ_LOG_LEVEL: "debug", TORQ_SEQUENCE_MAX_GAP: "50" });
 * layer.data; // { logging: { level: "debug" }, relays: { market_data: { validation: ... } ... } }
 * ```
 */
export function environLayer(environ: Readonly<Record<string, string | undefined>>): EnvironLayer {
  const layer: EnvironLayer = { data: {}, origins: new Map(), issues: [] };
  const get = (name: ConfigEnvVar): string | undefined => {
    const value = environ[name];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const setString = (name: ConfigEnvVar, path: KeyPath, known: readonly string[] = []) => {
    const value = get(name);
    if (value === undefined) return;
    // Accept any case for known words (TORQ_LOG_LEVEL=DEBUG); report others as given.
    const lower = value.toLowerCase();
    _set(layer, name, path, known.includes(lower) ? lower : value);
  };

  setString("TORQ_SOCKET_DIR", ["socket_dir"]);
  setString("TORQ_LOG_LEVEL", ["logging", "level"], LOG_LEVELS);
  setString("TORQ_LOG_FORMAT", ["logging", "format"], LOG_FORMATS);
  setString("TORQ_HTTP_LISTEN", ["http", "listen"]);
  setString("TORQ_HTTP_TOKEN", ["http", "token"]);

  for (const domain of DOMAIN_NAMES) {
    const name = _MESSAGE_SIZE_VARS[domain];
    const path = ["relays", domain, "validation", "max_message_size"];
    const value = _wholeNumber(layer, name, dottedPath(path), get(name));
    if (value !== undefined) _set(layer, name, path, value);
  }

  const allRelays = (key: string) => DOMAIN_NAMES.map((d) => ["relays", d, "validation", key]);

  const drift = get("TORQ_TIMESTAMP_MAX_DRIFT");
  if (drift !== undefined) {
    if (/^\d+(?:\.\d+)?$/.test(drift)) {
      const ms = Math.round(Number(drift) * 1000);
      for (const path of allRelays("max_future_ms")) {
        _set(layer, "TORQ_TIMESTAMP_MAX_DRIFT", path, ms);
      }
    } else {
      layer.issues.push({
        path: "relays.*.validation.max_future_ms",
        message: `expected a number of seconds, got ${show(drift)}`,
        source: "environment variable TORQ_TIMESTAMP_MAX_DRIFT",
      });
    }
  }

  const gap = _wholeNumber(
    layer,
    "TORQ_SEQUENCE_MAX_GAP",
    "relays.*.validation.max_sequence_gap",
    get("TORQ_SEQUENCE_MAX_GAP"),
  );
  if (gap !== undefined) {
    for (const path of allRelays("max_sequence_gap")) {
      _set(layer, "TORQ_SEQUENCE_MAX_GAP", path, gap);
    }
  }
  return layer;
}

function _wholeNumber(
  layer: EnvironLayer,
  name: ConfigEnvVar,
  path: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  layer.issues.push({
    path,
    message: `expected a whole number, got ${show(value)}`,
    source: `environment variable ${name}`,
  });
  return undefined;
}

function _set(layer: EnvironLayer, name: ConfigEnvVar, path: KeyPath, value: unknown): void {
  let node = layer.data;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next === "object" && next !== null) node = next as Record<string, unknown>;
    else node = node[key] = {};
  }
  node[path[path.length - 1] as string] = value;
  layer.origins.set(dottedPath(path), name);
}
