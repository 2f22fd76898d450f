/**
 * Developer tools built on the codec: `tlv-info` formatting, rendering of
 * decoded messages (text and JSON), building messages from that JSON, and hex
 * helpers. The `torq` CLI calls these; they do no I/O themselves.
 *
 * @module
 */

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
export {
  errorToJson,
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
