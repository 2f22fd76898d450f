/**
 * `torq config check [FILE]` and `torq config show`: validate and print the
 * effective configuration.
 *
 * @module
 */

import { formatConfig, loadSchemaFiles, SchemaFileError } from "../src/config/mod.ts";
import { CliError, Exit, printOut } from "./_args.ts";
import { defineCommand, defineGroup } from "./_command.ts";
import { CONFIG_OPTIONS, configFromArgs } from "./_config.ts";

/** `torq config`. */
export const command = defineGroup({
  name: "torq config",
  description: "Validate or show the effective configuration.",
  commands: { check: () => check, show: () => show },
  summaries: {
    check: "Validate the configuration and the schema files it lists; print the result",
    show: "Print the effective configuration",
  },
  examples: [
    "torq config check torq.yaml",
    "torq config show --env production",
    "TORQ_LOG_LEVEL=debug torq config show",
  ],
});

const check = defineCommand({
  name: "torq config check",
  summary: "Validate the configuration and the schema files it lists; print the result",
  description:
    `Validate the configuration (FILE, or --config, over the built-in defaults) and the schema
files it lists (schemas:), report every problem with its path and line (and a "did you mean" for a
mistyped key), and print the effective result.`,
  positionals: [{
    key: "file",
    name: "FILE",
    optional: true,
    help: "The configuration file (the same as --config FILE)",
  }],
  options: { ...CONFIG_OPTIONS },
  exits: { 0: "the configuration is valid", 1: "it is not: every problem is listed" },
  examples: [
    "torq config check torq.yaml",
    "torq config check --env production /etc/torq/torq.yaml",
    "torq config check --set relays.signal.validation.strict=false",
  ],
  async run({ options, args }) {
    const file = args.file;
    const config = configFromArgs(file === undefined ? options : { ...options, config: file });
    try {
      loadSchemaFiles(config.schemas);
    } catch (e) {
      if (e instanceof SchemaFileError) throw new CliError(e.message);
      throw e;
    }
    await printOut(`# configuration is valid${file === undefined ? "" : ": " + file}`);
    await printOut(formatConfig(config));
    return Exit.OK;
  },
});

const show = defineCommand({
  name: "torq config show",
  summary: "Print the effective configuration",
  description: `Print the effective configuration: defaults, environment overlay, file, TORQ_*
environment variables and --set overrides merged.`,
  options: { ...CONFIG_OPTIONS },
  exits: { 1: "the configuration is not valid" },
  examples: ["torq config show", "torq config show --env production"],
  async run({ options }) {
    await printOut(formatConfig(configFromArgs(options)));
    return Exit.OK;
  },
});
