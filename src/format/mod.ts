/**
 * Turning Protocol V2 into text and back, with no I/O: `decode`'s text and
 * JSON views of a frame ({@linkcode formatMessageText}, {@linkcode messageToJson}),
 * `encode`'s frames from that JSON ({@linkcode encodeMessageJson}), hex input
 * and output, the ArbitrageSignal JSON of the demo and the dashboard, and the
 * `tlv-info` views of the registry. Used by the CLI, the tools and the HTTP API.
 *
 * @example
 * ```ts
 * import { formatMessageText, parseHex } from "./mod.ts";
 * import { decodeMessage } from "../protocol/mod.ts";
 *
 * const frame = parseHex("efbeadde 0202 1400 0100000000000000 0000000000000000 00000000");
 * console.log(formatMessageText(decodeMessage(frame)));
 * ```
 *
 * @module
 */

export {
  errorToJson,
  FIXED_POINT_NAME,
  formatFixed,
  formatMessageText,
  formatNsTime,
  formatQ64,
  jsonValue,
  messageToJson,
  tlvToJson,
} from "./decode_format.ts";
export type {
  ErrorJson,
  HeaderJson,
  JsonValue,
  MessageJson,
  TextOptions,
  TlvJson,
} from "./decode_format.ts";
export {
  DEFAULT_SOURCE,
  encodeMessageJson,
  encodeMessagesJson,
  MessageJsonError,
} from "./encode_json.ts";
export type { EncodeJsonOptions } from "./encode_json.ts";
export { HexParseError, looksLikeHex, parseHex, toHex } from "./hex.ts";
export {
  ARBITRAGE_SIGNAL_TLV,
  arbitrageJsonFromMessage,
  arbitrageSignalToJson,
  dexName,
  shortAddress,
} from "./arbitrage_json.ts";
export type { ArbitrageOpportunityJson } from "./arbitrage_json.ts";
export {
  assignedRanges,
  DOMAIN_ORDER,
  findTlvInfo,
  formatTlvDetail,
  formatTlvTable,
  parseRegistryDomain,
  relayFor,
  tlvInfosOf,
  tlvInfoToJson,
  unknownTypeMessage,
} from "./tlv_info.ts";
