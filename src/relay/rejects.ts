/**
 * Turns a rejected frame's status into the typed error that explains it, with
 * offset and expected vs actual values. Runs only for rejected frames, never on
 * the forwarding path.
 *
 * @module
 */

import {
  checksumMismatchError,
  checkTlvArea,
  checkTlvSize,
  ErrorCode,
  FrameError,
  readSequence,
  readTimestamp,
  readTlvAt,
  Status,
  statusCode,
  TlvCursor,
  tlvError,
  tlvSizeError,
} from "../protocol/mod.ts";
import type { Validator } from "./policy.ts";
import type { RelayLogic } from "./logic.ts";

/** A rejected frame kept for inspection (`/api/rejects`). */
export interface RejectRecord {
  /** When (ms since epoch). */
  time: number;
  /** Connection that sent it. */
  conn: number;
  /** Error code. */
  code: string;
  /** Readable message. */
  message: string;
  /** Byte offset within the frame. */
  offset: number | null;
  /** Expected value. */
  expected: string | null;
  /** Actual value. */
  actual: string | null;
  /** First 64 bytes, hex. */
  head: string;
}

/**
 * The typed error of a rejected (or warned) frame.
 *
 * @param status why it was rejected
 * @param frame the whole frame
 * @param validator the validator that judged it (for gap facts)
 * @param logic the relay's logic (domain, limits)
 * @returns the error
 */
export function explainReject(
  status: Status,
  frame: Uint8Array,
  validator: Validator,
  logic: RelayLogic,
): FrameError {
  const got = frame[4]!;
  const expected = logic.legacyDomainNumbering ? logic.domain - 1 : logic.domain;
  switch (status) {
    case Status.WrongDomain:
    case Status.InvalidRelayDomain:
      return new FrameError(
        status === Status.WrongDomain ? ErrorCode.WrongDomain : ErrorCode.InvalidRelayDomain,
        `Cannot forward frame: relay_domain at offset 4 is ${got}, the ${logic.name} relay takes ${expected}`,
        { offset: 4, field: "relay_domain", expected, actual: got, details: { expected, got } },
      );
    case Status.ChecksumMismatch:
      return checksumMismatchError(frame, 0);
    case Status.TruncatedTlv:
    case Status.InvalidExtendedTlv: {
      const c = new TlvCursor();
      const st = checkTlvArea(frame, 32, frame.length, c);
      return tlvError(st === Status.OK ? status : st, c, 32);
    }
    case Status.PayloadSizeMismatch:
    case Status.PayloadSizeOutOfBounds:
    case Status.TlvNotAllowedInDomain: {
      const c = new TlvCursor();
      let off = 32;
      while (off < frame.length) {
        const next = readTlvAt(frame, off, frame.length, c);
        if (next < 0) break;
        if (c.type === validator.badType) {
          if (
            status !== Status.TlvNotAllowedInDomain && checkTlvSize(c.type, c.length) !== Status.OK
          ) {
            return tlvSizeError(c.type, c.length, off);
          }
          if (status === Status.TlvNotAllowedInDomain) {
            return new FrameError(
              ErrorCode.TlvNotAllowedInDomain,
              `Cannot forward frame: TLV ${c.type} at offset ${off} is outside the ${logic.name} relay's audit ranges`,
              {
                offset: off,
                field: "type",
                actual: c.type,
                details: { tlv_type: c.type, domain: logic.domain },
              },
            );
          }
        }
        off = next;
      }
      return new FrameError(statusCode(status), `Cannot forward frame: ${statusCode(status)}`, {});
    }
    case Status.MissingChecksum:
      return new FrameError(
        ErrorCode.MissingChecksum,
        "Cannot accept frame: checksum at offset 28 is 0, the audit policy requires one",
        { offset: 28, field: "checksum", expected: "non-zero", actual: 0 },
      );
    case Status.UnknownSource:
      return new FrameError(
        ErrorCode.UnknownSource,
        `Cannot accept frame: source at offset 6 is ${frame[6]}, not a known SourceType`,
        { offset: 6, field: "source", actual: frame[6]!, details: { got: frame[6]! } },
      );
    case Status.SequenceRegression:
    case Status.SequenceGap: {
      const seq = readSequence(frame, 0);
      const regress = status === Status.SequenceRegression;
      // Exact, as a bigint: a jump near 2^64 printed from a number would be rounded.
      const gap = seq - ((BigInt(validator.gapFromHi) << 32n) | BigInt(validator.gapFromLo)) - 1n;
      return new FrameError(
        regress ? ErrorCode.SequenceRegression : ErrorCode.SequenceGap,
        regress
          ? `Cannot accept frame: sequence ${seq} from source ${
            frame[6]
          } is not above the last one seen on this connection`
          : `Sequence gap of ${gap} before ${seq} from source ${
            frame[6]
          }, limit ${logic.maxSequenceGap}`,
        {
          offset: 8,
          field: "sequence",
          actual: seq,
          details: { source: frame[6]!, got: seq, gap: regress ? undefined : gap },
        },
      );
    }
    case Status.TimestampOutOfWindow: {
      const ts = readTimestamp(frame, 0);
      const now = BigInt(Date.now()) * 1_000_000n;
      return new FrameError(
        ErrorCode.TimestampOutOfWindow,
        `Cannot accept frame: timestamp ${ts} is outside [now − ${logic.maxAgeMs} ms, now + ${logic.maxFutureMs} ms]`,
        {
          offset: 16,
          field: "timestamp",
          actual: ts,
          details: {
            timestamp: ts,
            now,
            max_future_ns: BigInt(logic.maxFutureMs) * 1_000_000n,
            max_age_ns: BigInt(logic.maxAgeMs) * 1_000_000n,
          },
        },
      );
    }
    default:
      return new FrameError(statusCode(status), `Cannot forward frame: ${statusCode(status)}`, {});
  }
}
