/**
 * Command-line options of the bench scripts run as `deno task NAME -- ARGS`:
 * strict parsing, `--help`, and one line plus the help on a bad option.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** The script's arguments, without the `--` that `deno task NAME -- ARGS` passes on. */
export const BENCH_ARGS: readonly string[] = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;

/**
 * Parses the script's arguments (without the `--` that `deno task` passes on);
 * prints `help` and exits 0 on `--help`, exits 2 with one line and the help on
 * a bad option.
 *
 * @param name the script's name, for the error line
 * @param help the usage text
 * @param options the options, `help` among them
 * @returns the parsed values
 * @example
 * ```ts
 * const values = benchArgs("soak", HELP, {
 *   minutes: { type: "string", default: "3" },
 *   help: { type: "boolean", short: "h", default: false },
 * });
 * ```
 */
export function benchArgs<const O extends ParseArgsOptionsConfig>(
  name: string,
  help: string,
  options: O,
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...BENCH_ARGS], options, strict: true });
  } catch (e) {
    console.error(`%s: %s\n\n%s`, name, (e as Error).message, help);
    Deno.exit(2);
  }
  if ((parsed.values as Record<string, unknown>).help === true) {
    console.log(help);
    Deno.exit(0);
  }
  return parsed.values;
}
