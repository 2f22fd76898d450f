/**
 * `torq tlv-info [TYPE]`: the TLV registry as a table, or one type's entry
 * with its field table (PROTOCOL.md 8.4).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  findTlvInfo,
  formatTlvDetail,
  formatTlvTable,
  parseRegistryDomain,
  tlvInfosOf,
  tlvInfoToJson,
  unknownTypeMessage,
} from "../src/tools/tlv_info.ts";
import { CliError, Exit, parseOrUsage, printOut, UsageError } from "./_args.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_schemas.ts";

const COMMAND = "torq tlv-info";

const HELP = `Usage: torq tlv-info [TYPE] [--domain DOMAIN] [--json] [--schemas FILE]

Show the TLV registry (PROTOCOL.md 5.1). Without TYPE: every type with its
number, name, domain, size rule and layout status, grouped by domain. With TYPE
(a number or a name, case-insensitive): its description, domain, the relay that
carries it, size rule, layout and notes, then the field table (offset, size,
type, name).

Options:
  --domain DOMAIN  Only types of DOMAIN: market-data, signal, execution, system, vendor
  --json           Machine-readable output: the registry entry, or an array of entries
  --schemas FILE   Register the TLV schemas of a YAML file first (repeatable; PROTOCOL.md 5.8)
  -h, --help       Show this help

Examples:
  torq tlv-info
  torq tlv-info 20
  torq tlv-info ArbitrageSignal
  torq tlv-info --domain signal
  torq tlv-info 32 --json
  torq tlv-info --schemas config/schemas/example_vendor.yaml AcmeTopOfBook`;

/**
 * Runs `torq tlv-info`.
 *
 * @param args arguments after the subcommand name
 * @returns the exit code
 */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseOrUsage(COMMAND, () =>
    parseArgs({
      args,
      options: {
        domain: { type: "string" },
        json: { type: "boolean", default: false },
        ...SCHEMAS_OPTION,
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
  if (positionals.length > 1) {
    throw new UsageError(COMMAND, `expected at most one TYPE, got ${positionals.length}`);
  }
  registerSchemaFiles(values.schemas ?? []);
  const domain = values.domain === undefined ? undefined : parseRegistryDomain(values.domain);
  if (values.domain !== undefined && domain === undefined) {
    throw new UsageError(
      COMMAND,
      `unknown domain ${
        JSON.stringify(values.domain)
      }: use market-data, signal, execution, system or vendor`,
    );
  }
  const query = positionals[0];
  if (query === undefined) {
    const entries = tlvInfosOf(domain);
    await printOut(
      values.json ? JSON.stringify(entries.map(tlvInfoToJson), null, 2) : formatTlvTable(domain),
    );
    return Exit.OK;
  }
  const info = findTlvInfo(query);
  if (info === undefined) throw new CliError(unknownTypeMessage(query));
  if (domain !== undefined && info.domain !== domain) {
    throw new CliError(
      `TLV type ${info.type} (${info.name}) is in domain ${info.domain}, not ${domain}`,
    );
  }
  await printOut(
    values.json ? JSON.stringify(tlvInfoToJson(info), null, 2) : formatTlvDetail(info),
  );
  return Exit.OK;
}
