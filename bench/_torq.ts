/**
 * How benches and tests start `torq`: exactly as `deno task torq` (bin/torq)
 * runs it, with the V8 flags and permissions of bin/torq (the one place they
 * are written, read by deploy/build.ts's `runtimeFlags`), so a bench measures
 * and a test checks the relay the way users run it.
 *
 * @module
 */

import { runtimeFlags } from "../deploy/build.ts";

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The `deno run` options bin/torq passes (config, permissions, `--v8-flags`). */
export const TORQ_RUN_OPTIONS: readonly string[] = runOptions();

function runOptions(): string[] {
  const flags = runtimeFlags();
  return [
    "--quiet",
    "--no-prompt",
    "--config",
    `${ROOT}deno.json`,
    `--v8-flags=${flags.v8Flags}`,
    ...flags.permissions,
  ];
}

/**
 * Arguments for `Deno.Command(Deno.execPath(), { args })` that run `torq <args>`.
 *
 * @param args the torq command line, e.g. `["relay", "signal"]`
 * @returns `run`, bin/torq's options, the entry point and `args`
 * @example
 * ```ts
 * new Deno.Command(Deno.execPath(), { args: torqArgs(["relay", "signal"]) }).spawn();
 * ```
 */
export function torqArgs(args: readonly string[]): string[] {
  return ["run", ...TORQ_RUN_OPTIONS, `${ROOT}cli/main.ts`, ...args];
}
