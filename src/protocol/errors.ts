/**
 * Typed errors of the Protocol V2 error catalogue (PROTOCOL.md 4.6).
 *
 * Every parse error is a {@linkcode FrameError} whose `code` is the catalogue's
 * name, with the byte `offset` where the problem was found and the expected vs
 * actual values. Hot paths never construct these: they return numeric status
 * codes ({@linkcode Status}) and build the error only when it is reported.
 *
 * @module
 */

/**
 * Stable error codes, named as in the spec's catalogue (4.6) plus relay-side codes (7.8) and the
 * schema-registration codes (5.8): `InvalidSchema` (a schema that cannot describe a payload: bad
 * number, name, field type, overlapping or oversized fields) and `SchemaConflict` (a schema that
 * clashes with the registry: the number already has a layout, the name belongs to another type).
 */
export const ErrorCode = {
  HeaderTooShort: "HeaderTooShort",
  InvalidMagic: "InvalidMagic",
  UnsupportedVersion: "UnsupportedVersion",
  InvalidRelayDomain: "InvalidRelayDomain",
  WrongDomain: "WrongDomain",
  UnknownSource: "UnknownSource",
  PayloadTooLarge: "PayloadTooLarge",
  IncompleteFrame: "IncompleteFrame",
  TrailingBytes: "TrailingBytes",
  ChecksumMismatch: "ChecksumMismatch",
  MissingChecksum: "MissingChecksum",
  TruncatedTlv: "TruncatedTlv",
  InvalidExtendedTlv: "InvalidExtendedTlv",
  UnknownTlvType: "UnknownTlvType",
  PayloadSizeMismatch: "PayloadSizeMismatch",
  PayloadSizeOutOfBounds: "PayloadSizeOutOfBounds",
  TlvNotAllowedInDomain: "TlvNotAllowedInDomain",
  SequenceRegression: "SequenceRegression",
  SequenceGap: "SequenceGap",
  TimestampOutOfWindow: "TimestampOutOfWindow",
  InvalidFieldValue: "InvalidFieldValue",
  MalformedSubscribe: "MalformedSubscribe",
  MalformedRecovery: "MalformedRecovery",
  InvalidTlvType: "InvalidTlvType",
  InvalidSchema: "InvalidSchema",
  SchemaConflict: "SchemaConflict",
} as const;

/** One of the catalogue's error names. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/** Extra facts an error carries (the catalogue's fields, e.g. `need`, `got`, `limit`). */
export type ErrorDetails = Record<string, string | number | bigint | boolean | null | undefined>;

/** Options of a {@linkcode FrameError}. */
export interface FrameErrorOptions {
  /** Byte offset of the problem, absolute within the message (or stream). */
  offset?: number;
  /** Name of the field that was wrong. */
  field?: string;
  /** What was expected there. */
  expected?: string | number | bigint;
  /** What was found. */
  actual?: string | number | bigint;
  /** Further catalogue fields. */
  details?: ErrorDetails;
}

/**
 * A parse, validation or build error of Protocol V2.
 *
 * @example
 * ```ts
 * import { decodeMessage, FrameError } from "./mod.ts";
 * try {
 *   decodeMessage(new Uint8Array(4));
 * } catch (e) {
 *   if (e instanceof FrameError) console.log(e.code, e.offset); // HeaderTooShort 0
 * }
 * ```
 */
export class FrameError extends RangeError {
  /** Stable catalogue name. */
  readonly code: ErrorCode;
  /** Byte offset of the problem, if known. */
  readonly offset: number | undefined;
  /** The field that was wrong, if known. */
  readonly field: string | undefined;
  /** Expected value, if any. */
  readonly expected: string | number | bigint | undefined;
  /** Actual value, if any. */
  readonly actual: string | number | bigint | undefined;
  /** The catalogue's further fields. */
  readonly details: ErrorDetails;

  /**
   * @param code catalogue name
   * @param message sentence-case message naming the failed action and the values
   * @param options position and values
   */
  constructor(code: ErrorCode, message: string, options: FrameErrorOptions = {}) {
    super(message);
    this.name = "FrameError";
    this.code = code;
    this.offset = options.offset;
    this.field = options.field;
    this.expected = options.expected;
    this.actual = options.actual;
    this.details = options.details ?? {};
  }

  /** A plain JSON-safe object (`{code, message, offset, ...}`) for `--json` output and logs. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    out.offset = this.offset ?? null;
    if (this.field !== undefined) out.field = this.field;
    if (this.expected !== undefined) out.expected = jsonValue(this.expected);
    if (this.actual !== undefined) out.actual = jsonValue(this.actual);
    for (const [k, v] of Object.entries(this.details)) {
      if (v !== undefined) out[k] = jsonValue(v);
    }
    return out;
  }
}

function jsonValue(v: string | number | bigint | boolean | null): string | number | boolean | null {
  return typeof v === "bigint" ? v.toString() : v;
}

/** Formats a u32 as `0x` and 8 lowercase hex digits. */
export function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/**
 * Numeric status codes returned by allocation-free checks on hot paths.
 * `OK` is 0; every other value names one {@linkcode ErrorCode}.
 */
export const Status = {
  OK: 0,
  HeaderTooShort: 1,
  InvalidMagic: 2,
  UnsupportedVersion: 3,
  PayloadTooLarge: 4,
  IncompleteFrame: 5,
  InvalidRelayDomain: 6,
  WrongDomain: 7,
  ChecksumMismatch: 8,
  MissingChecksum: 9,
  TruncatedTlv: 10,
  InvalidExtendedTlv: 11,
  UnknownTlvType: 12,
  PayloadSizeMismatch: 13,
  PayloadSizeOutOfBounds: 14,
  TlvNotAllowedInDomain: 15,
  UnknownSource: 16,
  SequenceRegression: 17,
  SequenceGap: 18,
  TimestampOutOfWindow: 19,
  MalformedSubscribe: 20,
  MalformedRecovery: 21,
} as const;

/** A numeric status of {@linkcode Status}. */
export type Status = typeof Status[keyof typeof Status];

const STATUS_NAMES: readonly ErrorCode[] = (() => {
  const names: ErrorCode[] = [];
  for (const [name, value] of Object.entries(Status)) {
    if (value !== 0) names[value] = name as ErrorCode;
  }
  return names;
})();

/**
 * The catalogue name of a non-OK status.
 *
 * @param status a value of {@linkcode Status} other than `OK`
 * @returns the error code name
 */
export function statusCode(status: number): ErrorCode {
  const name = STATUS_NAMES[status];
  if (name === undefined) throw new RangeError(`Cannot name status ${status}: not an error status`);
  return name;
}
