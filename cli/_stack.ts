/**
 * Options of the commands that operate a running `torq up` (`down`,
 * `restart`, `logs`, `status`): which socket directory, from `--socket-dir`
 * or the configuration's `socket_dir`.
 *
 * @module
 */

import { CONFIG_HELP, CONFIG_OPTIONS, type ConfigArgs, configFromArgs } from "./_config.ts";

/** parseArgs option specs: `--socket-dir` and the configuration options. */
export const STACK_OPTIONS = {
  ...CONFIG_OPTIONS,
  "socket-dir": { type: "string" },
} as const;

/** Help lines of {@linkcode STACK_OPTIONS}. */
export const STACK_HELP =
  `  --socket-dir DIR     The stack's socket directory, as given to 'torq up' (default:
                       socket_dir of the configuration, /tmp/torq)
${CONFIG_HELP}`;

/**
 * The socket directory a command means: `--socket-dir`, else the configuration's.
 *
 * @param values parsed options
 * @returns the directory
 */
export function stackDir(values: ConfigArgs & { "socket-dir"?: string | undefined }): string {
  return values["socket-dir"] ?? configFromArgs(values).socket_dir;
}
