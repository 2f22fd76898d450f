/**
 * Options several commands declare alike, so each concept has one spelling:
 * `--count N`, `--seed N`, `--journal PATH`.
 *
 * @module
 */

import type { OptionSpec } from "./_command.ts";

/**
 * `--count N`: a positive whole number.
 *
 * @param help what N counts, e.g. `Stop after N frames`
 * @returns the option's declaration
 * @example
 * ```ts
 * const options = { count: countOption("Stop after N frames") };
 * ```
 */
export function countOption(help: string) {
  return { type: "number", value: "N", integer: true, positive: true, help } as const;
}

/** `--seed N`: a 32-bit seed that makes a generated stream reproducible. */
export const SEED_OPTION = {
  seed: {
    type: "number",
    value: "N",
    integer: true,
    min: 0,
    max: 4294967295,
    help: "Seed the generator: the same seed gives the same stream (default random)",
  },
} as const satisfies Record<string, OptionSpec>;

/** `--journal PATH`: where the execution relay writes its audit journal. */
export const JOURNAL_OPTION = {
  journal: {
    type: "string",
    value: "PATH",
    help: "Audit journal of the execution relay (default: beside its socket)",
  },
} as const satisfies Record<string, OptionSpec>;
