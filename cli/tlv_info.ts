/**
 * `torq tlv-info [TYPE]`: the TLV registry as a table, or one type's entry
 * with its field table (PROTOCOL.md 8.4).
 *
 * @module
 */

import {
  findTlvInfo,
  formatTlvDetail,
  formatTlvTable,
  parseRegistryDomain,
  tlvInfosOf,
  tlvInfoToJson,
  unknownTypeMessage,
} from "../src/format/mod.ts";
import { didYouMean } from "../src/text/mod.ts";
import { CliError, Exit, printOut, UsageError } from "./_args.ts";
import { defineCommand } from "./_command.ts";
import { registerSchemaFiles, SCHEMAS_OPTION } from "./_tlv_schemas.ts";

const COMMAND = "torq tlv-info";
const REGISTRY_DOMAINS = ["market-data", "signal", "execution", "system", "vendor"];

/** `torq tlv-info`. */
export const command = defineCommand({
  name: COMMAND,
  description:
    `Show the TLV registry (PROTOCOL.md 5.1). Without TYPE: every type with its number, name,
domain, size rule and layout status, grouped by domain. With TYPE (a number or a name,
case-insensitive): its description, domain, the relay that carries it, size rule, layout and
notes, then the field table (offset, size, type, name).`,
  positionals: [{
    key: "type",
    name: "TYPE",
    optional: true,
    help: "A TLV type number or name, e.g. 20 or ArbitrageSignal",
  }],
  options: {
    domain: {
      type: "string",
      value: "DOMAIN",
      help: `Only types of DOMAIN: ${REGISTRY_DOMAINS.join(", ")}`,
    },
    json: {
      type: "boolean",
      help: "Machine-readable output: the registry entry, or an array of entries",
    },
    ...SCHEMAS_OPTION,
  },
  exits: { 1: "no such TLV type" },
  examples: [
    "torq tlv-info",
    "torq tlv-info 20",
    "torq tlv-info ArbitrageSignal",
    "torq tlv-info --domain signal",
    "torq tlv-info 32 --json",
    "torq tlv-info --schemas config/schemas/example_vendor.yaml AcmeTopOfBook",
  ],
  async run({ options: values, args }) {
    registerSchemaFiles(values.schemas);
    const domain = values.domain === undefined ? undefined : parseRegistryDomain(values.domain);
    if (values.domain !== undefined && domain === undefined) {
      throw new UsageError(
        COMMAND,
        `unknown domain ${JSON.stringify(values.domain)}: use ${REGISTRY_DOMAINS.join(", ")}${
          didYouMean(values.domain, REGISTRY_DOMAINS)
        }`,
      );
    }
    const query = args.type;
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
  },
});
