/**
 * TLV records (PROTOCOL.md 4.x): the allocation-free cursor used on hot paths,
 * the convenience walker that returns records as views, and the encoder that
 * picks the standard or extended form.
 *
 * Offsets in errors are absolute within the buffer handed in (for a message:
 * message offsets, so payload offset 0 is message offset 32); the payload-relative
 * offset is in `details.payload_offset`.
 *
 * @module
 */

import { ErrorCode, FrameError, Status } from "./errors.ts";

/** Type byte that introduces the extended form. */
export const EXTENDED_MARKER = 255;
/** Largest payload of the standard form. */
export const MAX_STANDARD_LENGTH = 255;
/** Largest payload of the extended form **[D-19]**. */
export const MAX_EXTENDED_LENGTH = 65_535;

/** Encoding form of a TLV record. */
export type TlvForm = "standard" | "extended";

/**
 * A reusable cursor filled by {@linkcode readTlvAt}: the last record's type,
 * where its value starts and how long it is. On failure it holds the error facts.
 */
export class TlvCursor {
  /** TLV type (the real type for the extended form). */
  type = 0;
  /** 2 (standard) or 5 (extended). */
  headerLength = 0;
  /** Absolute offset of the value's first byte. */
  valueStart = 0;
  /** Value length in bytes. */
  length = 0;
  /** Absolute offset of the record (or of the failure). */
  offset = 0;
  /** On TruncatedTlv: bytes the record needs. */
  need = 0;
  /** On TruncatedTlv: bytes left in the area. */
  available = 0;
  /** On InvalidExtendedTlv: the reserved byte (or -1 when the type was the problem). */
  reserved = -1;
}

/**
 * Reads the record header at `off` within the TLV area ending at `end`, without
 * allocating (4.5). Fills `cursor` and returns the offset after the record, or a
 * negated {@linkcode Status} (`-Status.TruncatedTlv`, `-Status.InvalidExtendedTlv`).
 *
 * @param b buffer
 * @param off record start
 * @param end end of the TLV area
 * @param cursor filled with the record (or failure) facts
 * @returns next offset (≥ 0) or a negated status
 */
export function readTlvAt(b: Uint8Array, off: number, end: number, cursor: TlvCursor): number {
  const left = end - off;
  cursor.offset = off;
  cursor.reserved = -1;
  if (left < 2) {
    cursor.type = left > 0 ? b[off]! : -1;
    cursor.need = 2;
    cursor.available = left;
    return -Status.TruncatedTlv;
  }
  let t = b[off]!;
  let n: number;
  let h: number;
  if (t === EXTENDED_MARKER) {
    if (left < 5) {
      cursor.type = left >= 3 ? b[off + 2]! : -1;
      cursor.need = 5;
      cursor.available = left;
      return -Status.TruncatedTlv;
    }
    const reserved = b[off + 1]!;
    t = b[off + 2]!;
    if (reserved !== 0) {
      cursor.type = t;
      cursor.reserved = reserved;
      return -Status.InvalidExtendedTlv;
    }
    if (t === EXTENDED_MARKER || t === 0) {
      cursor.type = t;
      return -Status.InvalidExtendedTlv;
    }
    n = b[off + 3]! | (b[off + 4]! << 8);
    h = 5;
  } else {
    n = b[off + 1]!;
    h = 2;
  }
  cursor.type = t;
  cursor.headerLength = h;
  cursor.valueStart = off + h;
  cursor.length = n;
  if (left < h + n) {
    cursor.need = h + n;
    cursor.available = left;
    return -Status.TruncatedTlv;
  }
  return off + h + n;
}

/**
 * Checks that `[start, end)` walks as a sequence of TLVs, without allocating.
 * On failure `cursor` holds the facts for {@linkcode tlvError}.
 *
 * @param b buffer
 * @param start first byte of the TLV area (message offset 32)
 * @param end one past its last byte
 * @param cursor scratch cursor
 * @returns `Status.OK` or the failing status
 */
export function checkTlvArea(b: Uint8Array, start: number, end: number, cursor: TlvCursor): Status {
  let off = start;
  while (off < end) {
    const next = readTlvAt(b, off, end, cursor);
    if (next < 0) return -next as Status;
    off = next;
  }
  return Status.OK;
}

/**
 * Builds the typed error of a failed walk from the cursor's facts.
 *
 * @param status `TruncatedTlv` or `InvalidExtendedTlv`
 * @param cursor the cursor that failed
 * @param areaStart absolute offset of the TLV area's first byte (for payload offsets)
 * @returns the error
 */
export function tlvError(status: Status, cursor: TlvCursor, areaStart: number): FrameError {
  const off = cursor.offset;
  const rel = off - areaStart;
  const at = `payload offset ${rel} (message offset ${off})`;
  if (status === Status.InvalidExtendedTlv) {
    if (cursor.reserved >= 0) {
      return new FrameError(
        ErrorCode.InvalidExtendedTlv,
        `Cannot walk TLVs: extended record at ${at} has reserved byte ${cursor.reserved}, expected 0`,
        {
          offset: off,
          field: "reserved",
          expected: 0,
          actual: cursor.reserved,
          details: { payload_offset: rel, reserved: cursor.reserved },
        },
      );
    }
    return new FrameError(
      ErrorCode.InvalidExtendedTlv,
      `Cannot walk TLVs: extended record at ${at} has type ${cursor.type}, expected 1–254`,
      {
        offset: off,
        field: "tlv_type",
        expected: "1-254",
        actual: cursor.type,
        details: { payload_offset: rel, tlv_type: cursor.type },
      },
    );
  }
  const type = cursor.type >= 0 ? ` of type ${cursor.type}` : "";
  return new FrameError(
    ErrorCode.TruncatedTlv,
    `Cannot walk TLVs: record${type} at ${at} needs ${cursor.need} bytes, ${cursor.available} available`,
    {
      offset: off,
      expected: cursor.need,
      actual: cursor.available,
      details: {
        payload_offset: rel,
        tlv_type: cursor.type >= 0 ? cursor.type : undefined,
        need: cursor.need,
        available: cursor.available,
      },
    },
  );
}

/** One TLV record, its value a view of the input (no copy). */
export interface TlvRecord {
  /** TLV type (1–254). */
  type: number;
  /** Encoding form. */
  form: TlvForm;
  /** Absolute offset of the record's first byte. */
  offset: number;
  /** Value length. */
  length: number;
  /** The value bytes (a subarray of the input). */
  value: Uint8Array;
}

/**
 * Walks a TLV area and returns every record as a view.
 *
 * @param bytes buffer
 * @param start first byte of the TLV area (default 0)
 * @param end one past its last byte (default `bytes.length`)
 * @returns the records in wire order
 * @throws {FrameError} `TruncatedTlv` or `InvalidExtendedTlv`
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * const records = walkTlvs(frame, 32, frame.length);
 * records[0]?.type; // 1
 * ```
 */
export function walkTlvs(bytes: Uint8Array, start = 0, end: number = bytes.length): TlvRecord[] {
  const out: TlvRecord[] = [];
  const c = new TlvCursor();
  let off = start;
  while (off < end) {
    const next = readTlvAt(bytes, off, end, c);
    if (next < 0) throw tlvError(-next as Status, c, start);
    out.push({
      type: c.type,
      form: c.headerLength === 5 ? "extended" : "standard",
      offset: off,
      length: c.length,
      value: bytes.subarray(c.valueStart, c.valueStart + c.length),
    });
    off = next;
  }
  return out;
}

/**
 * The first record of type `type` in a TLV area (either form). Malformed data
 * before it raises the walk error instead of stopping silently (4.5).
 *
 * @param bytes buffer
 * @param type TLV type to find
 * @param start first byte of the TLV area
 * @param end one past its last byte
 * @returns the record, or `undefined` when none has that type
 * @throws {FrameError} on a malformed area
 */
export function findTlv(
  bytes: Uint8Array,
  type: number,
  start = 0,
  end: number = bytes.length,
): TlvRecord | undefined {
  const c = new TlvCursor();
  let off = start;
  while (off < end) {
    const next = readTlvAt(bytes, off, end, c);
    if (next < 0) throw tlvError(-next as Status, c, start);
    if (c.type === type) {
      return {
        type,
        form: c.headerLength === 5 ? "extended" : "standard",
        offset: off,
        length: c.length,
        value: bytes.subarray(c.valueStart, c.valueStart + c.length),
      };
    }
    off = next;
  }
  return undefined;
}

/**
 * Encoded size of a record with a value of `length` bytes (2 + n or 5 + n).
 *
 * @param length value length
 * @returns bytes the record takes
 */
export function tlvEncodedSize(length: number): number {
  return length <= MAX_STANDARD_LENGTH ? 2 + length : 5 + length;
}

/**
 * Checks a record's type and length before encoding (4.8).
 *
 * @param type TLV type
 * @param length value length
 * @throws {FrameError} `InvalidTlvType` for 0/255/non-bytes, `PayloadTooLarge` above 65,535
 */
export function assertEncodableTlv(type: number, length: number): void {
  if (!Number.isInteger(type) || type < 1 || type > 254) {
    throw new FrameError(
      ErrorCode.InvalidTlvType,
      `Cannot encode TLV: type ${type} is not 1–254 (0 is invalid, 255 is the extended marker)`,
      {
        field: "type",
        expected: "1-254",
        actual: String(type),
        details: { tlv_type: String(type) },
      },
    );
  }
  if (length > MAX_EXTENDED_LENGTH) {
    throw new FrameError(
      ErrorCode.PayloadTooLarge,
      `Cannot encode TLV ${type}: value is ${length} bytes, limit 65535`,
      {
        field: "length",
        expected: "<= 65535",
        actual: length,
        details: { tlv_type: type, limit: 65535 },
      },
    );
  }
}

/**
 * Writes one record header (standard when the value fits 255 bytes, else
 * extended) at `off`; the caller writes the value after it.
 *
 * @param target destination
 * @param off where the record starts
 * @param type TLV type (1–254)
 * @param length value length (≤ 65,535)
 * @returns offset of the value's first byte
 */
export function writeTlvHeader(
  target: Uint8Array,
  off: number,
  type: number,
  length: number,
): number {
  if (length <= MAX_STANDARD_LENGTH) {
    target[off] = type;
    target[off + 1] = length;
    return off + 2;
  }
  target[off] = EXTENDED_MARKER;
  target[off + 1] = 0;
  target[off + 2] = type;
  target[off + 3] = length & 0xff;
  target[off + 4] = length >>> 8;
  return off + 5;
}

/**
 * Encodes one whole record (header and value) at `off`.
 *
 * @param target destination with room for {@linkcode tlvEncodedSize} bytes
 * @param off where the record starts
 * @param type TLV type
 * @param value the payload
 * @returns the offset after the record
 * @throws {FrameError} when the type or length cannot be encoded
 */
export function encodeTlv(
  target: Uint8Array,
  off: number,
  type: number,
  value: Uint8Array,
): number {
  assertEncodableTlv(type, value.length);
  const at = writeTlvHeader(target, off, type, value.length);
  target.set(value, at);
  return at + value.length;
}
