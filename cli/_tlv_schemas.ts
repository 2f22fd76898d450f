/**
 * `--schemas FILE`: register the TLV schemas of YAML files (PROTOCOL.md 5.8)
 * before a subcommand decodes anything. `decode`, `sub` and `tlv-info` take
 * the option; `relay` and `up` also load the configuration's `schemas:` list.
 *
 * @module
 */

import { loadSchemaFiles, SchemaFileError } from "../src/config/mod.ts";
import { FrameError, registerSchemas, type TlvTypeInfo } from "../src/protocol/mod.ts";
import { CliError } from "./_args.ts";
import type { OptionSpec } from "./_command.ts";

/** The `--schemas FILE` option (repeatable). */
export const SCHEMAS_OPTION = {
  schemas: {
    type: "string",
    value: "FILE",
    multiple: true,
    help: "Register the TLV schemas of a YAML file first (PROTOCOL.md 5.8), so vendor TLVs " +
      "decode field by field, e.g. config/schemas/example_vendor.yaml",
  },
} as const satisfies Record<string, OptionSpec>;

/**
 * Reads, checks and registers the schemas of the given files, all or nothing.
 *
 * @param paths schema files, in order (none: nothing happens)
 * @returns the registry entries now in effect
 * @throws {CliError} listing every problem with its file, path and line
 * @example
 * ```ts
 * import type { TorqConfig } from "../src/config/mod.ts";
 * declare const config: TorqConfig;
 * declare const options: { schemas: string[] };
 *
 * registerSchemaFiles([...config.schemas, ...options.schemas]);
 * ```
 */
export function registerSchemaFiles(paths: readonly string[]): TlvTypeInfo[] {
  if (paths.length === 0) return [];
  try {
    return registerSchemas(loadSchemaFiles(paths));
  } catch (e) {
    if (e instanceof SchemaFileError || e instanceof FrameError) throw new CliError(e.message);
    throw e;
  }
}
