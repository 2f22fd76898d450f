/**
 * Structured logging for relays and tools.
 *
 * @module
 */
export { LogBudget, Logger, LogLevel, RateLimit } from "./logger.ts";
export type { LogFields, LogFormat, LoggerOptions, LogLevelName, LogSink } from "./logger.ts";
export { rotatedFiles, RotatingFile } from "./rotating_file.ts";
export type { RotatingFileOptions } from "./rotating_file.ts";
