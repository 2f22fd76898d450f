/**
 * The tools that talk to relays from the command line: `sub` (subscribe and
 * print), `pub` (publish built or given frames), `record` and `replay` (the
 * TORQREC1 recording file), and the views of an audited relay's execution
 * journal (`torq journal`, `decode --file`, `replay` of a journal). The CLI
 * only parses arguments and calls these.
 *
 * @example
 * ```ts
 * import { pubFrames, splitFrames } from "./mod.ts";
 *
 * const frames = pubFrames({ kind: "vector", name: "trade_kraken_btc_usd" });
 * splitFrames(frames[0]!).length; // 1
 * ```
 *
 * @module
 */

export {
  connectSubscriber,
  formatFrame,
  formatReceiveTime,
  gapLine,
  parseByteList,
  parseSequence,
  planSubscription,
  quotePatterns,
  RateGraph,
  recoveryLine,
  runSub,
  subSummary,
} from "./sub.ts";
export type {
  FrameFormatOptions,
  SubFormat,
  SubOptions,
  SubOutput,
  SubResult,
  SubscriberOptions,
  SubscriptionChoice,
  SubscriptionPlan,
} from "./sub.ts";
export {
  pubFrames,
  publishPaced,
  pubSummary,
  repeatAtRate,
  splitFrames,
  wrongDomain,
} from "./pub.ts";
export type { PubInput, PublishResult, ScheduledFrame } from "./pub.ts";
export { recordSummary, runRecord } from "./record.ts";
export type { RecordOptions, RecordResult } from "./record.ts";
export {
  damageLine,
  decodeRecordingHeader,
  encodeRecord,
  encodeRecordingHeader,
  isRecording,
  readRecording,
  readRecordingFile,
  RECORD_HEADER_SIZE,
  RECORDING_FORMATS,
  RECORDING_HEADER_SIZE,
  RECORDING_MAGIC,
  RECORDING_VERSION,
  RecordingError,
  RecordingErrorCode,
  RecordingWriter,
  TORQREC1,
} from "./record_file.ts";
export type {
  RecordedFrame,
  RecordingContents,
  RecordingFormat,
  RecordingHeader,
} from "./record_file.ts";
export {
  loadRecording,
  parseReplayFrom,
  parseReplayRate,
  recordingDomain,
  refusedRecords,
  ReplayError,
  replayPolicy,
  replayProblems,
  replaySchedule,
  replaySummary,
  runReplay,
  selectFrom,
} from "./replay.ts";
export type {
  Recording,
  Refusal,
  ReplayFrom,
  ReplayOptions,
  ReplayRate,
  ReplayResult,
  ScheduleOptions,
} from "./replay.ts";
export {
  followJournal,
  formatJournalLine,
  journalAsRecording,
  journalFrames,
  journalRecords,
  journalRecordToJson,
  matchesFilter,
  parseSince,
  verifyLines,
} from "./journal_view.ts";
export type { JournalFilter, JournalJson, JournalViewOptions } from "./journal_view.ts";
