/**
 * The developer and operator tools behind `torq`'s subcommands: `tlv-info` and
 * `decode` formatting, encode-from-JSON and hex helpers (pure), and the tools
 * that talk to relays (demo arbitrage and pipeline, mock relay, sub, pub,
 * record/replay, bench, status). The CLI only parses arguments and calls these.
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

export { arbitrageJsonFromMessage, arbitrageSignalToJson } from "./arbitrage_json.ts";
export type { ArbitrageOpportunityJson } from "./arbitrage_json.ts";
export { DemoArbitrageGenerator, runDemoArbitrage } from "./demo_arbitrage.ts";
export type { DemoArbitrageOptions, DemoArbitrageResult } from "./demo_arbitrage.ts";
export { Pipeline } from "./pipeline.ts";
export type { PipelineOptions, PipelineStats } from "./pipeline.ts";
export { MockMarketData, MockRelay } from "./mock_relay.ts";
export type { MockMarketOptions, MockRelayOptions, MockRelayStats } from "./mock_relay.ts";
export { Prng } from "./prng.ts";
export { planSubscription, runSub } from "./sub.ts";
export type { SubOptions, SubResult } from "./sub.ts";
export { pubFrames, publishPaced } from "./pub.ts";
export type { PublishResult } from "./pub.ts";
export { runRecord } from "./record.ts";
export type { RecordOptions, RecordResult } from "./record.ts";
export { isRecording, readRecording, RecordingError, RecordingWriter } from "./record_file.ts";
export type { RecordedFrame, RecordingHeader } from "./record_file.ts";
export { loadRecording, runReplay } from "./replay.ts";
export type { ReplayOptions, ReplayResult } from "./replay.ts";
export { findVector, SPEC_VECTORS } from "./vectors_data.ts";
export type { SpecVector } from "./vectors_data.ts";
export { benchmark, runBench } from "./bench.ts";
export type { BenchReport, BenchResult, BenchWorkload } from "./bench.ts";
export { Histogram } from "./histogram.ts";
export type { HistogramSummary } from "./histogram.ts";
export { collectStatus, formatStatus } from "./status.ts";
export type { StatusReport } from "./status.ts";
