/**
 * How to run `torq` itself from inside it: services configured with
 * `command: torq`, and the background process of `torq up -d`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * The command that runs this torq: the launcher that started this process
 * (bin/torq and dist/torq set `TORQ_EXECUTABLE`), the compiled executable
 * itself, or, when running from source, `deno run -A <main module>`.
 *
 * @returns the program and its leading arguments
 * @example
 * ```ts
 * const [program, ...args] = torqCommand();
 * new Deno.Command(program!, { args: [...args, "status"] });
 * ```
 */
export function torqCommand(): string[] {
  const launcher = Deno.env.get("TORQ_EXECUTABLE");
  if (launcher !== undefined && launcher !== "") return [launcher];
  const exe = Deno.execPath();
  const name = exe.split(/[\\/]/).pop() ?? "";
  const compiled = Deno.mainModule.includes("/deno-compile-") || !/^deno(\.exe)?$/i.test(name);
  if (compiled || !Deno.mainModule.startsWith("file:")) return [exe];
  return [exe, "run", "-A", fileURLToPath(Deno.mainModule)];
}
