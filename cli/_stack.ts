/**
 * Options of the commands that operate a running `torq up` (`down`,
 * `restart`, `logs`): which socket directory, from `--socket-dir` or the
 * configuration's `socket_dir`.
 *
 * @module
 */

import type { OptionSpec } from "./_command.ts";
import { CONFIG_SOURCE_OPTIONS, type ConfigArgs, configFromArgs } from "./_config.ts";

/** `--socket-dir` and the configuration options. */
export const STACK_OPTIONS = {
  "socket-dir": {
    type: "string",
    value: "DIR",
    help: "The stack's socket directory, as given to 'torq up' (default: socket_dir of the " +
      "configuration, /tmp/torq)",
  },
  ...CONFIG_SOURCE_OPTIONS,
} as const satisfies Record<string, OptionSpec>;

/**
 * The socket directory a command means: `--socket-dir`, else the configuration's.
 *
 * @param values parsed options
 * @returns the directory
 */
export function stackDir(values: ConfigArgs & { "socket-dir"?: string | undefined }): string {
  return values["socket-dir"] ?? configFromArgs(values).socket_dir;
}
