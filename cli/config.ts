/**
 * `torq config check [FILE]` and `torq config show`: validate and print the
 * effective configuration.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { formatConfig, loadSchemaFiles, SchemaFileError } from "../src/config/mod.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { CONFIG_HELP, CONFIG_OPTIONS, configFromArgs } from "./_config.ts";

const COMMAND = "torq config";

const HELP = `Usage: torq config check [FILE] [options]
       torq config show [options]

check  Validate the configuration (FILE, or --config, over the built-in defaults)
       and the schema files it lists (schemas:), report every problem with its
       path and line, and print the effective result.
show   Print the effective configuration: defaults, environment overlay, file,
       TORQ_* environment variables and --set overrides merged.

Options:
${CONFIG_HELP}
  -h, --help           Show this help

Examples:
  torq config check torq.yaml
  torq config show --env production
  TORQ_LOG_LEVEL=debug torq config show`;

/**
 * Runs `torq config`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        ...CONFIG_OPTIONS,
        help: { type: "boolean", short: "h", default: false },
        verbose: { type: "boolean", default: false },
      },
      allowPositionals: true,
      strict: true,
    }));
  if (values.help) {
    await printOut(HELP);
    return Exit.OK;
  }
  const [action, file, ...rest] = positionals;
  if (action !== "check" && action !== "show") {
    throw new UsageError(COMMAND, "expected 'check' or 'show'");
  }
  if (rest.length > 0 || (action === "show" && file !== undefined)) {
    throw new UsageError(COMMAND, `unexpected argument '${rest[0] ?? file}'`);
  }
  const config = configFromArgs(file === undefined ? values : { ...values, config: file });
  if (action === "check") {
    try {
      loadSchemaFiles(config.schemas);
    } catch (e) {
      if (e instanceof SchemaFileError) throw new CliError(e.message);
      throw e;
    }
    await printOut(`# configuration is valid${file === undefined ? "" : ": " + file}`);
  }
  await printOut(formatConfig(config));
  return Exit.OK;
}
