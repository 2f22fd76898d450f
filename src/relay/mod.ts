/**
 * The relay engine: one generic `Relay` and the three domains as data.
 *
 * @module
 */
export { Relay } from "./relay.ts";
export { relayLogicFromConfig } from "./from_config.ts";
export { RELOADABLE, RELOADABLE_CONFIG_KEYS, RELOADABLE_SETTINGS } from "./reloadable.ts";
export type { ReloadableSetting } from "./reloadable.ts";
export type { RelayOptions } from "./relay.ts";
export { EXECUTION_LOGIC, MARKET_DATA_LOGIC, RELAY_LOGICS, SIGNAL_LOGIC } from "./logic.ts";
export type { RelayLogic, SlowConsumerPolicy } from "./logic.ts";
export { auditTlvRanges, Validator } from "./policy.ts";
export type { PolicyName, ValidatorOptions } from "./policy.ts";
export { AuditJournal, JOURNAL_DEFAULTS } from "./journal.ts";
export type { AuditJournalOptions, FsyncPolicy, JournalSettings, JournalStats } from "./journal.ts";
export {
  decodeJournalHeader,
  isJournal,
  JournalError,
  lastAccepted,
  readJournal,
  readJournalBytes,
  readJournalRecords,
  verifyJournal,
} from "./journal_file.ts";
export type {
  ControlKind,
  JournalDamage,
  JournalHeader,
  JournalRecord,
  JournalResult,
  JournalSummary,
  ReadJournalOptions,
} from "./journal_file.ts";
export type { RejectRecord } from "./rejects.ts";
export type {
  BridgeStats,
  ConnectionStats,
  LatencyStats,
  RelayStats,
  SourceStats,
} from "./stats.ts";
export { LatencyHistogram } from "./latency.ts";
