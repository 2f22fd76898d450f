/**
 * Options every relay-facing subcommand shares (`--config`, `--env`, `--set`,
 * `--log-level`, `--log-format`) and how they become the effective configuration.
 *
 * @module
 */

import {
  ConfigError,
  loadConfig,
  LOG_FORMATS,
  LOG_LEVELS,
  parseOverrides,
} from "../src/config/mod.ts";
import type { TorqConfig } from "../src/config/mod.ts";
import { CliError } from "./_args.ts";
import type { OptionSpec } from "./_command.ts";

const GROUP = "Configuration";

/** Where the configuration comes from: `--config`, `--env`, `--set`. */
export const CONFIG_SOURCE_OPTIONS = {
  config: {
    type: "string",
    value: "FILE",
    group: GROUP,
    help: "Configuration file (YAML) layered over the built-in defaults",
  },
  env: {
    type: "string",
    value: "NAME",
    group: GROUP,
    help:
      "Environment overlay: development, staging or production (default TORQ_ENV, else development)",
  },
  set: {
    type: "string",
    value: "KEY=VALUE",
    multiple: true,
    group: GROUP,
    help: "Override one setting, e.g. --set relays.signal.validation.strict=false",
  },
} as const satisfies Record<string, OptionSpec>;

/** {@linkcode CONFIG_SOURCE_OPTIONS} and the logging options of commands that run relays. */
export const CONFIG_OPTIONS = {
  ...CONFIG_SOURCE_OPTIONS,
  "log-level": {
    type: "string",
    value: "LEVEL",
    choices: LOG_LEVELS,
    group: GROUP,
    help: `Log level: ${LOG_LEVELS.join(", ")}`,
  },
  "log-format": {
    type: "string",
    value: "FORMAT",
    choices: LOG_FORMATS,
    group: GROUP,
    help: `Log format: ${LOG_FORMATS.join(" or ")}`,
  },
} as const satisfies Record<string, OptionSpec>;

/** Values of the shared options after parsing. */
export interface ConfigArgs {
  config?: string | undefined;
  env?: string | undefined;
  set?: readonly string[] | undefined;
  "log-level"?: string | undefined;
  "log-format"?: string | undefined;
}

/**
 * Loads the effective configuration from the shared options; config errors
 * become one CliError listing every problem with its path and line.
 *
 * @param values parsed options
 * @param extra further overrides (e.g. from dedicated flags)
 * @returns the configuration
 */
export function configFromArgs(
  values: ConfigArgs,
  extra: Record<string, unknown> = {},
): TorqConfig {
  try {
    const pairs = [...(values.set ?? [])];
    if (values["log-level"] !== undefined) pairs.push(`logging.level=${values["log-level"]}`);
    if (values["log-format"] !== undefined) pairs.push(`logging.format=${values["log-format"]}`);
    const overrides = deepMerge(parseOverrides(pairs), extra);
    return loadConfig({
      ...(values.config === undefined ? {} : { file: values.config }),
      ...(values.env === undefined ? {} : { env: values.env }),
      environ: Deno.env.toObject(),
      overrides,
    });
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw e;
  }
}

function deepMerge(
  a: Record<string, unknown>,
  b: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = isObject(cur) && isObject(v) ? deepMerge(cur, v) : v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
