/**
 * The Protocol V2 codec: pure, no I/O, no Deno APIs. Header, CRC-32, TLV walk
 * and encoding, the TLV registry and typed payloads, runtime schema
 * registration, InstrumentId, the MessageBuilder, the FrameReader, the
 * Subscribe control TLV, topics and the filters of a subscription (what a
 * relay and a client must agree on), and the spec's worked examples.
 *
 * @example
 * ```ts
 * import { decodeMessage, MessageBuilder, type PayloadFields } from "./mod.ts";
 *
 * declare const trade: PayloadFields; // instrument_id, price, volume, side, …
 * const frame = new MessageBuilder({ domain: 1, source: 2 }).begin().addPayload(1, trade).build();
 * decodeMessage(frame).tlvs[0]?.name; // "Trade"
 * ```
 *
 * @module
 */

export { ErrorCode, FrameError, hex32, Status, statusCode } from "./errors.ts";
export type { ErrorDetails, FrameErrorOptions } from "./errors.ts";

export {
  DEFAULT_SOCKET_PATHS,
  DOMAIN_NUMBERS,
  domainName,
  fromLegacyDomain,
  isKnownSource,
  LegacySourceType,
  parseDomain,
  RELAY_SOURCE,
  RelayDomain,
  sourceName,
  SourceType,
  toLegacyDomain,
} from "./domains.ts";
export type { DomainName } from "./domains.ts";

export { crc32, crc32Finish, crc32Update, frameChecksum } from "./crc32.ts";

export {
  checkFrameStart,
  checksumMismatchError,
  checksumStatus,
  decodeHeader,
  encodeHeader,
  frameStartError,
  HEADER_SIZE,
  HeaderOffset,
  MAGIC,
  MAX_MESSAGE_SIZE,
  MAX_PAYLOAD_SIZE,
  PROTOCOL_VERSION,
  readChecksum,
  readFlags,
  readMagic,
  readPayloadSize,
  readRelayDomain,
  readSequence,
  readSequenceHigh,
  readSequenceLow,
  readSource,
  readTimestamp,
  readTimestampApprox,
  readU32,
  readVersion,
  sealChecksum,
  viewSequenceHigh,
  viewSequenceLow,
  viewTimestampApprox,
  writeU32,
} from "./header.ts";
export type { ChecksumStatus, Header, HeaderInit } from "./header.ts";

export {
  assertEncodableTlv,
  checkTlvArea,
  encodeTlv,
  EXTENDED_MARKER,
  findTlv,
  MAX_EXTENDED_LENGTH,
  MAX_STANDARD_LENGTH,
  readTlvAt,
  TlvCursor,
  tlvEncodedSize,
  tlvError,
  walkTlvs,
  writeTlvHeader,
} from "./tlv.ts";
export type { TlvForm, TlvRecord } from "./tlv.ts";

export {
  builtinTlvType,
  checkTlvSize,
  formatSizeRule,
  lookupTlvType,
  maxTailLength,
  REGISTRY_DOMAINS,
  TLV_TYPES,
  tlvSizeError,
  tlvType,
} from "./registry.ts";
export type {
  FieldSpec,
  LayoutStatus,
  RegistryDomain,
  SizeBounds,
  SizeRule,
  TlvTypeInfo,
} from "./registry.ts";

export {
  decodePayload,
  encodePayload,
  encodePayloadInto,
  fieldTypeSize,
  hasLayout,
  payloadLength,
} from "./payloads.ts";
export type { FieldValue, PayloadFields } from "./payloads.ts";

export {
  checkSchemas,
  registeredSchemas,
  registerSchema,
  registerSchemas,
  schemaPath,
  unregisterSchema,
  VENDOR_MAX,
  VENDOR_MIN,
} from "./tlv_schema.ts";
export type {
  SchemaCheck,
  SchemaDefinition,
  SchemaField,
  SchemaProblem,
  SchemaSize,
} from "./tlv_schema.ts";

export * from "./instrument_id.ts";

export { decodeFrameAt, decodeMessage, decodeMessages } from "./message.ts";
export type { DecodedMessage, DecodedTlv, DecodeOptions } from "./message.ts";

export { MessageBuilder } from "./builder.ts";
export type { BeginOptions, BuilderOptions } from "./builder.ts";

export { FrameReader } from "./frame_reader.ts";
export type { FrameReaderOptions } from "./frame_reader.ts";

export {
  decodeErrorText,
  encodeErrorText,
  encodeSubscribe,
  ERROR_TLV,
  parseSubscribe,
  SUBSCRIBE_TLV,
  SubscribeMode,
} from "./subscribe.ts";
export type { SubscribeRequest } from "./subscribe.ts";

export { nowMs, nowNs, writeNsFromMs } from "./clock.ts";

export { Filter, FrameTopics, patternMatches, TopicRegistry } from "./topics.ts";
export type { ExtractionStrategy } from "./topics.ts";

export { findVector, SPEC_VECTORS } from "./spec_vectors.ts";
export type { SpecVector } from "./spec_vectors.ts";
