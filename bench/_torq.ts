/**
 * How benches start `torq`: exactly as `deno task torq` runs it, with the
 * permissions and V8 flags of the `torq` task in deno.json (the one place they
 * are written), so a bench measures the relay the way users run it.
 *
 * @module
 */

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The `deno run` options of the `torq` task (permissions, `--v8-flags`), read from deno.json. */
export const TORQ_RUN_OPTIONS: readonly string[] = runOptions();

function runOptions(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)) as {
    tasks: Record<string, string>;
  };
  const words = config.tasks.torq!.split(/\s+/);
  const from = words.indexOf("run");
  const to = words.indexOf("cli/main.ts");
  if (from < 0 || to < from) {
    throw new Error(`deno.json: unexpected torq task: ${config.tasks.torq}`);
  }
  return words.slice(from + 1, to);
}

/**
 * Arguments for `Deno.Command(Deno.execPath(), { args })` that run `torq <args>`.
 *
 * @param args the torq command line, e.g. `["relay", "signal"]`
 * @returns `run`, the torq task's options, the entry point and `args`
 * @example
 * ```ts
 * new Deno.Command(Deno.execPath(), { args: torqArgs(["relay", "signal"]) }).spawn();
 * ```
 */
export function torqArgs(args: readonly string[]): string[] {
  return ["run", ...TORQ_RUN_OPTIONS, `${ROOT}cli/main.ts`, ...args];
}
