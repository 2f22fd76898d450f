/**
 * Loading the configuration: layering, validation with located errors, printing.
 *
 * Layers, lowest to highest priority: the embedded `config/default.yaml`, the embedded environment
 * overlay, the user's `--config` file, `TORQ_*` environment variables, command-line overrides.
 * Mappings merge key by key; lists, scalars and `topics.extraction_strategy` replace; a null where
 * a lower layer has a mapping (an empty YAML section) changes nothing.
 *
 * `relay.max_connections` (a reference key) wins over `performance.max_connections` within the
 * layer that sets it: the loader copies it to `performance.max_connections` in that layer before
 * merging, so a higher layer can still change the cap with either key.
 *
 * @module
 */

import { Document, isScalar, MAX_YAML_BYTES, parseYaml, visit } from "./_yaml.ts";
import type { YamlDocument } from "./_yaml.ts";
import { dottedPath, FileTooLarge, isRecord, readBounded, valueAt } from "./_util.ts";
import type { KeyPath } from "./_util.ts";
import {
  DEFAULT_CONFIG,
  DEFAULT_ENVIRONMENT,
  ENVIRONMENT_OVERLAYS,
  ENVIRONMENTS,
  isEnvironmentName,
} from "./defaults.ts";
import type { EmbeddedFile, EnvironmentName } from "./defaults.ts";
import { environLayer } from "./environ.ts";
import { ConfigError } from "./errors.ts";
import type { ConfigIssue } from "./errors.ts";
import { checkConfig, DOMAIN_NAMES } from "./document.ts";
import type { RelayConfig, RelayDomainName, TorqConfig } from "./document.ts";

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** User configuration file (`--config FILE`). */
  file?: string;
  /** Environment overlay; default `TORQ_ENV`, else `development`. */
  env?: string;
  /** Environment variables; the CLI passes `Deno.env.toObject()`. Default: none. */
  environ?: Readonly<Record<string, string | undefined>>;
  /** Command-line overrides, a partial configuration document (highest priority). */
  overrides?: object;
  /**
   * Reads the user file; default: read it as UTF-8, refusing one over 1 MiB
   * (`MAX_YAML_BYTES`) before reading it whole.
   */
  readFile?: (path: string) => string;
}

/** Where a problem came from, without its path and message. */
type _Origin = Pick<ConfigIssue, "file" | "line" | "source">;

/** One configuration layer: partial document data and a way to locate a key in its source. */
interface _Layer {
  data: Record<string, unknown>;
  locate(path: KeyPath, at: "key" | "value"): _Origin;
}

/**
 * Load the effective configuration from every layer (see the module documentation).
 *
 * @param options the user file, environment, environment variables and overrides
 * @returns the validated, resolved configuration
 * @throws {ConfigError} listing every problem, each with its dotted path and origin
 * @example
 * ```ts
 * // As the CLI does for `torq relay --config torq.yaml --env staging`:
 * //   loadConfig({ file: "torq.yaml", env: "staging", environ: Deno.env.toObject() })
 * const config = loadConfig({ env: "staging", environ: { TORQ_LOG_LEVEL: "debug" } });
 * config.relays.market_data.transport.path; // "/tmp/torq-staging/market_data.sock"
 * ```
 */
export function loadConfig(options: LoadConfigOptions = {}): TorqConfig {
  const environ = options.environ ?? {};
  const issues: ConfigIssue[] = [];
  let fatal = false;
  const layers: _Layer[] = [];

  const addYaml = (file: EmbeddedFile) => {
    const parsed = _yamlLayer(file.text, file.name);
    issues.push(...parsed.issues);
    fatal ||= parsed.fatal;
    if (parsed.layer !== undefined) layers.push(parsed.layer);
  };

  addYaml(DEFAULT_CONFIG);

  const env = _environmentName(options.env, environ["TORQ_ENV"], issues);
  if (env !== undefined) addYaml(ENVIRONMENT_OVERLAYS[env]);

  if (options.file !== undefined) {
    let text: string | undefined;
    try {
      text = options.readFile?.(options.file) ?? readBounded(options.file, MAX_YAML_BYTES);
      if (text.length > MAX_YAML_BYTES) throw new FileTooLarge(text.length, MAX_YAML_BYTES);
    } catch (error) {
      fatal = true;
      issues.push({
        path: "",
        message: error instanceof FileTooLarge
          ? error.message
          : `Cannot read configuration file: ${_reason(error)}`,
        file: options.file,
      });
    }
    if (text !== undefined && !fatal) addYaml({ name: options.file, text });
  }

  const fromEnviron = environLayer(environ);
  issues.push(...fromEnviron.issues);
  layers.push({
    data: fromEnviron.data,
    locate: (path) => {
      const name = fromEnviron.origins.get(dottedPath(path));
      return { source: `environment variable ${name ?? "TORQ_*"}` };
    },
  });

  if (options.overrides !== undefined) {
    const overrides = _overridesLayer(options.overrides);
    issues.push(...overrides.issues);
    if (overrides.layer !== undefined) layers.push(overrides.layer);
  }

  return _build(layers, issues, fatal);
}

/**
 * Parse one configuration text as if it were the `--config` file, over the embedded
 * `config/default.yaml` only (no environment overlay, no environment variables).
 *
 * @param text YAML text
 * @param fileName name used in error messages
 * @returns the validated, resolved configuration
 * @throws {ConfigError} listing every problem with its path and line in `fileName`
 * @example
 * ```ts
 * const config = parseConfigText("relays:\n  signal:\n    validation:\n      strict: false\n", "my.yaml");
 * config.relays.signal.validation.strict; // false
 * ```
 */
export function parseConfigText(text: string, fileName: string): TorqConfig {
  const issues: ConfigIssue[] = [];
  const layers: _Layer[] = [];
  let fatal = false;
  for (const file of [DEFAULT_CONFIG, { name: fileName, text }]) {
    const parsed = _yamlLayer(file.text, file.name);
    issues.push(...parsed.issues);
    fatal ||= parsed.fatal;
    if (parsed.layer !== undefined) layers.push(parsed.layer);
  }
  return _build(layers, issues, fatal);
}

/** Options of {@linkcode formatConfig}. */
export interface FormatConfigOptions {
  /** Print `http.token` as `<redacted>` when it is set (the output then no longer loads back). */
  redact?: boolean;
}

/**
 * The YAML text of a configuration, for `torq config show`. Keys and layout follow
 * `config/default.yaml`; socket modes are printed in octal (`0o660`). Without `redact`, loading
 * the output again gives the same configuration.
 *
 * @param config a loaded configuration
 * @param options `redact: true` hides secrets
 * @returns YAML text ending with a newline
 * @example
 * ```ts
 * console.log(formatConfig(loadConfig(), { redact: true }));
 * ```
 */
export function formatConfig(config: TorqConfig, options: FormatConfigOptions = {}): string {
  const shown = options.redact && config.http.token !== null
    ? { ...config, http: { ...config.http, token: "<redacted>" } }
    : config;
  const doc = new Document(shown);
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && pair.key.value === "socket_mode" && isScalar(pair.value)) {
        pair.value.format = "OCT";
      }
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/**
 * The settings of one relay.
 *
 * @param config a loaded configuration
 * @param name `market_data`, `signal` or `execution`
 * @returns that relay's resolved settings
 * @throws {RangeError} when `name` is not a configured relay
 * @example
 * ```ts
 * relayConfig(loadConfig(), "signal").transport.path; // "/tmp/torq/signals.sock"
 * ```
 */
export function relayConfig(config: TorqConfig, name: RelayDomainName): RelayConfig {
  if (!(DOMAIN_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(
      `Cannot find relay configuration: "${name}" is not one of ${DOMAIN_NAMES.join(", ")}`,
    );
  }
  return config.relays[name];
}

// ---------------------------------------------------------------------------------------------

function _build(layers: _Layer[], issues: ConfigIssue[], fatal: boolean): TorqConfig {
  // A file that cannot be read or parsed would make every later message misleading.
  if (fatal) throw new ConfigError(issues);
  let merged: unknown = {};
  for (const layer of layers) {
    _foldMaxConnections(layer.data);
    merged = _merge(merged, layer.data, []);
  }
  const result = checkConfig(merged);
  if (!result.ok) {
    // Report in reading order: by layer, then by line.
    const located = result.problems.map((problem) => {
      const { layer, origin } = _origin(layers, problem.path, problem.at);
      const issue: ConfigIssue = {
        path: dottedPath(problem.path),
        message: problem.message,
        ...origin,
      };
      return { layer, line: origin.line ?? 0, issue };
    });
    located.sort((a, b) => a.layer - b.layer || a.line - b.line);
    issues.push(...located.map((l) => l.issue));
  }
  if (issues.length > 0 || !result.ok) throw new ConfigError(issues);
  return result.config;
}

/** The origin of a path: the highest layer that sets it, or else the longest prefix of it. */
function _origin(
  layers: readonly _Layer[],
  path: KeyPath,
  at: "key" | "value",
): { layer: number; origin: _Origin } {
  for (let length = path.length; length >= 1; length--) {
    const prefix = path.slice(0, length);
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i];
      if (layer !== undefined && valueAt(layer.data, prefix).found) {
        return { layer: i, origin: layer.locate(prefix, length === path.length ? at : "value") };
      }
    }
  }
  return { layer: layers.length, origin: {} };
}

function _environmentName(
  option: string | undefined,
  variable: string | undefined,
  issues: ConfigIssue[],
): EnvironmentName | undefined {
  const fromOption = option !== undefined && option.trim() !== "";
  const fromVariable = !fromOption && variable !== undefined && variable.trim() !== "";
  const name = fromOption ? option.trim() : fromVariable ? variable.trim() : DEFAULT_ENVIRONMENT;
  if (isEnvironmentName(name)) return name;
  const expected = ENVIRONMENTS.map((e) => `"${e}"`);
  issues.push({
    path: "",
    message: `Unknown environment "${name}": expected ${expected.slice(0, -1).join(", ")} or ` +
      expected[expected.length - 1],
    source: fromOption ? "option env" : "environment variable TORQ_ENV",
  });
  return undefined;
}

function _yamlLayer(
  text: string,
  file: string,
): { layer?: _Layer; issues: ConfigIssue[]; fatal: boolean } {
  const { doc, errors, lineOf, lineAt } = parseYaml(text);
  if (errors.length > 0) {
    const issues = errors.map((error): ConfigIssue => ({
      path: "",
      message: `Cannot parse YAML: ${error.message}`,
      file,
      line: error.line,
    }));
    return { issues, fatal: true };
  }
  _readSocketModesAsOctal(doc);
  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (data !== null && data !== undefined && !isRecord(data)) {
    const issue: ConfigIssue = {
      path: "",
      message: `Cannot use file: expected a mapping at the top level, got ${
        Array.isArray(data) ? "a list" : JSON.stringify(data)
      }`,
      file,
      line: doc.contents?.range ? lineAt(doc.contents.range[0]) : 1,
    };
    return { issues: [issue], fatal: false };
  }
  const layer: _Layer = {
    data: isRecord(data) ? data : {},
    locate: (path, at) => {
      const line = lineOf(path, at);
      return line === undefined ? { file } : { file, line };
    },
  };
  return { layer, issues: [], fatal: false };
}

/**
 * YAML 1.2 reads `socket_mode: 0660` as the decimal number 660 (and `0640` as 640, a valid but
 * wrong mode). Everybody writing a leading zero means octal, so such plain scalars are kept as
 * their text, which the schema reads as octal.
 */
function _readSocketModesAsOctal(doc: YamlDocument.Parsed): void {
  visit(doc, {
    Pair(_key, pair) {
      const value = pair.value;
      if (
        isScalar(pair.key) && pair.key.value === "socket_mode" && isScalar(value) &&
        typeof value.value === "number" && value.type === "PLAIN" &&
        /^0[0-9]+$/.test(value.source ?? "")
      ) {
        value.value = value.source;
      }
    },
  });
}

function _overridesLayer(overrides: object): { layer?: _Layer; issues: ConfigIssue[] } {
  const source = "command-line override";
  let data: unknown;
  try {
    data = structuredClone(overrides);
  } catch (error) {
    return { issues: [{ path: "", message: `Cannot use overrides: ${_reason(error)}`, source }] };
  }
  if (!isRecord(data)) {
    const issue = { path: "", message: "Cannot use overrides: expected a mapping", source };
    return { issues: [issue] };
  }
  return { layer: { data, locate: () => ({ source }) }, issues: [] };
}

/** Copy a valid `relay.max_connections` of one layer to its `performance.max_connections`. */
function _foldMaxConnections(data: Record<string, unknown>): void {
  const relays = data["relays"];
  if (!isRecord(relays)) return;
  for (const name of DOMAIN_NAMES) {
    const relayDoc = relays[name];
    if (!isRecord(relayDoc)) continue;
    const relay = relayDoc["relay"];
    if (!isRecord(relay)) continue;
    const cap = relay["max_connections"];
    if (!_isPositiveInteger(cap)) continue;
    const performance = relayDoc["performance"] ?? {};
    if (!isRecord(performance)) continue;
    const current = performance["max_connections"];
    if (current !== undefined && current !== null && !_isPositiveInteger(current)) continue;
    performance["max_connections"] = cap;
    relayDoc["performance"] = performance;
    delete relay["max_connections"];
  }
}

function _isPositiveInteger(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function _merge(lower: unknown, higher: unknown, path: KeyPath): unknown {
  if (higher === undefined) return lower;
  if (higher === null && isRecord(lower)) return lower;
  if (isRecord(lower) && isRecord(higher) && !_isAtomic(path)) {
    const out: Record<string, unknown> = { ...lower };
    for (const [key, value] of Object.entries(higher)) {
      out[key] = _merge(lower[key], value, [...path, key]);
    }
    return out;
  }
  return higher;
}

/** Mappings that replace rather than merge: `relays.<name>.topics.extraction_strategy`. */
function _isAtomic(path: KeyPath): boolean {
  return path.length === 4 && path[0] === "relays" && path[2] === "topics" &&
    path[3] === "extraction_strategy";
}

function _reason(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  return error instanceof Error ? error.message : String(error);
}
