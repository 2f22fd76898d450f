/**
 * Options every relay-facing subcommand shares (`--config`, `--env`, `--set`,
 * `--log-level`, `--log-format`) and how they become the effective configuration.
 *
 * @module
 */

import { ConfigError, loadConfig, parseOverrides } from "../src/config/mod.ts";
import type { TorqConfig } from "../src/config/mod.ts";
import { CliError } from "./_args.ts";

/** parseArgs option specs of the shared configuration options. */
export const CONFIG_OPTIONS = {
  config: { type: "string" },
  env: { type: "string" },
  set: { type: "string", multiple: true },
  "log-level": { type: "string" },
  "log-format": { type: "string" },
} as const;

/** Help lines of the shared configuration options. */
export const CONFIG_HELP =
  `  --config FILE        Configuration file (YAML) layered over the built-in defaults
  --env NAME           Environment overlay: development, staging, production (default TORQ_ENV or development)
  --set KEY=VALUE      Override one setting, e.g. --set relays.signal.validation.strict=false (repeatable)
  --log-level LEVEL    debug, info, warn or error
  --log-format FORMAT  text or json`;

/** Values of the shared options after parsing. */
export interface ConfigArgs {
  config?: string | undefined;
  env?: string | undefined;
  set?: string[] | undefined;
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
