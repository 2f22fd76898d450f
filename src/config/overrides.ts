/**
 * Command-line overrides written as `KEY=VALUE` pairs (`--set relays.signal.validation.strict=false`).
 *
 * @module
 */

import { parse } from "./_yaml.ts";
import { isRecord } from "./_util.ts";
import { ConfigError } from "./errors.ts";
import type { ConfigIssue } from "./errors.ts";

/**
 * Turn `KEY=VALUE` pairs into an overrides document for `loadConfig({ overrides })`. `KEY` is a
 * dotted path; `VALUE` is read as YAML, so `false`, `5`, `[a, b]` and `{fixed: orders}` have their
 * YAML types and anything else is a string; a `socket_mode` written with a leading zero (`0640`) is
 * octal, as in a file. Later pairs win.
 *
 * @param pairs e.g. the values of repeated `--set` options
 * @returns a partial configuration document
 * @throws {ConfigError} listing every malformed pair
 * @example
 * ```ts
 * parseOverrides(["relays.signal.validation.strict=false", "logging.level=debug"]);
 * // { relays: { signal: { validation: { strict: false } } }, logging: { level: "debug" } }
 * ```
 */
export function parseOverrides(pairs: readonly string[]): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  const source = "command-line override";
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    const keys = eq < 0 ? [] : pair.slice(0, eq).trim().split(".");
    if (keys.length === 0 || keys.some((k) => k === "")) {
      issues.push({
        path: "",
        message: `Cannot use override "${pair}": expected KEY=VALUE`,
        source,
      });
      continue;
    }
    const text = pair.slice(eq + 1);
    let value: unknown;
    try {
      // As in a file: `socket_mode=0660` means octal, not the decimal number 660.
      value = keys[keys.length - 1] === "socket_mode" && /^\s*0[0-9]+\s*$/.test(text)
        ? text.trim()
        : parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      issues.push({ path: keys.join("."), message: `Cannot read value: ${reason}`, source });
      continue;
    }
    let node = result;
    for (const key of keys.slice(0, -1)) {
      const next = node[key];
      node = isRecord(next) ? next : (node[key] = {});
    }
    node[keys[keys.length - 1] as string] = value;
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return result;
}
