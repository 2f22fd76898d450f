/**
 * The 32-byte Protocol V2 message header (PROTOCOL.md 2.x): layout constants,
 * zero-copy field readers, encode/decode, and the allocation-free frame-start
 * check used by the FrameReader and the relay.
 *
 * @module
 */

import { frameChecksum } from "./crc32.ts";
import { ErrorCode, FrameError, hex32, Status } from "./errors.ts";

/** Header size in bytes. */
export const HEADER_SIZE = 32;
/** The magic number, `EF BE AD DE` on the wire. */
export const MAGIC = 0xdeadbeef;
/** The magic read with the wrong byte order. */
export const MAGIC_SWAPPED = 0xefbeadde;
/** The only protocol version. */
export const PROTOCOL_VERSION = 1;
/** Protocol-wide maximum of a whole message (2.5). */
export const MAX_MESSAGE_SIZE = 1_048_576;
/** Protocol-wide maximum payload_size. */
export const MAX_PAYLOAD_SIZE = MAX_MESSAGE_SIZE - HEADER_SIZE;

/** Byte offsets of the header fields. */
export const HeaderOffset = {
  magic: 0,
  relayDomain: 4,
  version: 5,
  source: 6,
  flags: 7,
  sequence: 8,
  timestamp: 16,
  payloadSize: 24,
  checksum: 28,
} as const;

/** A decoded header. 64-bit fields are `bigint`. */
export interface Header {
  /** Always 0xDEADBEEF in a valid frame. */
  magic: number;
  /** Wire value of the relay domain (1–4). */
  relayDomain: number;
  /** Protocol version (1). */
  version: number;
  /** SourceType byte. */
  source: number;
  /** Reserved flag bits, forwarded unchanged. */
  flags: number;
  /** Producer-assigned sequence. */
  sequence: bigint;
  /** Build time, ns since the Unix epoch. */
  timestamp: bigint;
  /** Bytes of TLV payload after the header. */
  payloadSize: number;
  /** Stored CRC-32, 0 = not computed. */
  checksum: number;
}

/** Result of verifying a stored checksum. */
export type ChecksumStatus = "ok" | "mismatch" | "absent";

/**
 * Reads a little-endian u32 without allocating.
 *
 * @param b buffer
 * @param off byte offset
 * @returns the unsigned value
 */
export function readU32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

/** Magic of the frame at `off`. @param b buffer @param off frame start @returns u32 */
export function readMagic(b: Uint8Array, off: number): number {
  return readU32(b, off);
}
/** Relay domain byte of the frame at `off`. @param b buffer @param off frame start @returns u8 */
export function readRelayDomain(b: Uint8Array, off: number): number {
  return b[off + 4]!;
}
/** Version byte of the frame at `off`. @param b buffer @param off frame start @returns u8 */
export function readVersion(b: Uint8Array, off: number): number {
  return b[off + 5]!;
}
/** Source byte of the frame at `off`. @param b buffer @param off frame start @returns u8 */
export function readSource(b: Uint8Array, off: number): number {
  return b[off + 6]!;
}
/** Flags byte of the frame at `off`. @param b buffer @param off frame start @returns u8 */
export function readFlags(b: Uint8Array, off: number): number {
  return b[off + 7]!;
}
/** payload_size of the frame at `off`. @param b buffer @param off frame start @returns u32 */
export function readPayloadSize(b: Uint8Array, off: number): number {
  return readU32(b, off + 24);
}
/** Stored checksum of the frame at `off`. @param b buffer @param off frame start @returns u32 */
export function readChecksum(b: Uint8Array, off: number): number {
  return readU32(b, off + 28);
}
/** Low 32 bits of the sequence. @param b buffer @param off frame start @returns u32 */
export function readSequenceLow(b: Uint8Array, off: number): number {
  return readU32(b, off + 8);
}
/** High 32 bits of the sequence. @param b buffer @param off frame start @returns u32 */
export function readSequenceHigh(b: Uint8Array, off: number): number {
  return readU32(b, off + 12);
}
/**
 * The timestamp as a float number of nanoseconds (exact to ~256 ns at today's
 * epoch values): for latency arithmetic on hot paths without BigInt.
 *
 * @param b buffer
 * @param off frame start
 * @returns nanoseconds since the epoch, approximately
 */
export function readTimestampApprox(b: Uint8Array, off: number): number {
  return readU32(b, off + 20) * 4294967296 + readU32(b, off + 16);
}

/**
 * The timestamp as a float number of nanoseconds, read through a DataView of
 * the buffer: two word loads, for per-frame hot paths (see
 * {@linkcode readTimestampApprox}).
 *
 * @param v a view of the buffer
 * @param off frame start
 * @returns nanoseconds since the epoch, approximately
 */
export function viewTimestampApprox(v: DataView, off: number): number {
  return v.getUint32(off + 20, true) * 4294967296 + v.getUint32(off + 16, true);
}

/** Low 32 bits of the sequence, through a DataView. @param v buffer view @param off frame start @returns u32 */
export function viewSequenceLow(v: DataView, off: number): number {
  return v.getUint32(off + 8, true);
}

/** High 32 bits of the sequence, through a DataView. @param v buffer view @param off frame start @returns u32 */
export function viewSequenceHigh(v: DataView, off: number): number {
  return v.getUint32(off + 12, true);
}

/**
 * The sequence as a lossless bigint.
 *
 * @param b buffer
 * @param off frame start
 * @returns the u64 sequence
 */
export function readSequence(b: Uint8Array, off: number): bigint {
  return (BigInt(readSequenceHigh(b, off)) << 32n) | BigInt(readSequenceLow(b, off));
}

/**
 * The timestamp as a lossless bigint.
 *
 * @param b buffer
 * @param off frame start
 * @returns nanoseconds since the epoch
 */
export function readTimestamp(b: Uint8Array, off: number): bigint {
  return (BigInt(readU32(b, off + 20)) << 32n) | BigInt(readU32(b, off + 16));
}

/**
 * The diagnosis of a bad magic value (2.4 step 2).
 *
 * @param magic the u32 read at the frame start
 * @returns a short human diagnosis
 */
export function magicDiagnosis(magic: number): string {
  if (magic === 0) return "uninitialised buffer";
  if (magic === 0xffffffff) return "corrupted";
  if (magic === MAGIC_SWAPPED) return "byte order";
  return "not a Protocol V2 frame";
}

/**
 * Checks a frame start without allocating (2.4 steps 1–5): enough bytes for a
 * header, magic, version, payload_size within `maxPayload`, whole frame present.
 *
 * @param b buffer
 * @param off frame start
 * @param end one past the last available byte
 * @param maxPayload largest accepted payload_size
 * @returns `Status.OK` or the failing status
 */
export function checkFrameStart(
  b: Uint8Array,
  off: number,
  end: number,
  maxPayload: number,
): Status {
  if (end - off < HEADER_SIZE) return Status.HeaderTooShort;
  if (readU32(b, off) !== MAGIC) return Status.InvalidMagic;
  if (b[off + 5] !== PROTOCOL_VERSION) return Status.UnsupportedVersion;
  const size = readU32(b, off + 24);
  if (size > maxPayload) return Status.PayloadTooLarge;
  if (end - off < HEADER_SIZE + size) return Status.IncompleteFrame;
  return Status.OK;
}

/**
 * Builds the typed error for a failed {@linkcode checkFrameStart}.
 *
 * @param status the failing status
 * @param b buffer
 * @param off frame start
 * @param end one past the last available byte
 * @param maxPayload the limit that was applied
 * @returns the error to report
 */
export function frameStartError(
  status: Status,
  b: Uint8Array,
  off: number,
  end: number,
  maxPayload: number = MAX_PAYLOAD_SIZE,
): FrameError {
  const got = end - off;
  switch (status) {
    case Status.HeaderTooShort:
      return new FrameError(
        ErrorCode.HeaderTooShort,
        `Cannot decode header: ${got} bytes available at offset ${off}, expected at least 32`,
        { offset: off, expected: 32, actual: got, details: { need: 32, got } },
      );
    case Status.InvalidMagic: {
      const magic = readU32(b, off);
      const diagnosis = magicDiagnosis(magic);
      return new FrameError(
        ErrorCode.InvalidMagic,
        `Cannot decode header: magic at offset ${off} is ${
          hex32(magic)
        }, expected 0xdeadbeef (${diagnosis})`,
        {
          offset: off,
          field: "magic",
          expected: hex32(MAGIC),
          actual: hex32(magic),
          details: { got: magic, diagnosis },
        },
      );
    }
    case Status.UnsupportedVersion: {
      const v = b[off + 5]!;
      return new FrameError(
        ErrorCode.UnsupportedVersion,
        `Cannot decode header: version at offset ${off + 5} is ${v}, expected 1`,
        {
          offset: off + 5,
          field: "version",
          expected: 1,
          actual: v,
          details: { got: v, supported: "[1]" },
        },
      );
    }
    case Status.PayloadTooLarge: {
      const size = readU32(b, off + 24);
      return new FrameError(
        ErrorCode.PayloadTooLarge,
        `Cannot decode header: payload_size at offset ${off + 24} is ${size}, limit ${maxPayload}`,
        {
          offset: off + 24,
          field: "payload_size",
          expected: `<= ${maxPayload}`,
          actual: size,
          details: { payload_size: size, limit: maxPayload },
        },
      );
    }
    case Status.IncompleteFrame: {
      const need = HEADER_SIZE + readU32(b, off + 24);
      return new FrameError(
        ErrorCode.IncompleteFrame,
        `Cannot decode frame at offset ${off}: ${got} bytes available, payload_size needs ${need}`,
        { offset: off, expected: need, actual: got, details: { need, got } },
      );
    }
    default:
      throw new RangeError(`Cannot build a frame-start error for status ${status}`);
  }
}

/**
 * Decodes the header at `offset`, checking steps 1–3 of 2.4 (length, magic, version).
 *
 * @param bytes buffer
 * @param offset frame start (default 0)
 * @returns the typed header
 * @throws {FrameError} `HeaderTooShort`, `InvalidMagic` or `UnsupportedVersion`
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * const h = decodeHeader(frame);
 * h.sequence; // 1n
 * ```
 */
export function decodeHeader(bytes: Uint8Array, offset = 0): Header {
  const s = checkFrameStart(bytes, offset, bytes.length, Number.MAX_SAFE_INTEGER);
  if (s === Status.HeaderTooShort || s === Status.InvalidMagic || s === Status.UnsupportedVersion) {
    throw frameStartError(s, bytes, offset, bytes.length);
  }
  return {
    magic: readU32(bytes, offset),
    relayDomain: bytes[offset + 4]!,
    version: bytes[offset + 5]!,
    source: bytes[offset + 6]!,
    flags: bytes[offset + 7]!,
    sequence: readSequence(bytes, offset),
    timestamp: readTimestamp(bytes, offset),
    payloadSize: readU32(bytes, offset + 24),
    checksum: readU32(bytes, offset + 28),
  };
}

/** Header fields a caller sets when encoding; the rest default (magic, version 1, flags 0). */
export interface HeaderInit {
  /** Wire domain value (1–4, or 0–3 when writing legacy numbering). */
  relayDomain: number;
  /** SourceType byte. */
  source: number;
  /** Producer sequence, default 0. */
  sequence?: bigint | number;
  /** ns since the epoch, default 0 (builders default to now). */
  timestamp?: bigint | number;
  /** payload_size, default 0. */
  payloadSize?: number;
  /** checksum, default 0. */
  checksum?: number;
  /** flags, default 0. */
  flags?: number;
  /** version, default 1. */
  version?: number;
  /** magic, default 0xDEADBEEF. */
  magic?: number;
}

/**
 * Writes a little-endian u32 without allocating.
 *
 * @param b buffer
 * @param off byte offset
 * @param v value (its low 32 bits)
 */
export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/**
 * Writes a little-endian u64 (a non-negative safe integer, or a bigint taken mod 2^64).
 * The number form allocates nothing.
 *
 * @param b buffer
 * @param off byte offset
 * @param v value
 */
export function writeU64(b: Uint8Array, off: number, v: bigint | number): void {
  if (typeof v === "number") {
    const lo = v % 4294967296;
    writeU32(b, off, lo);
    writeU32(b, off + 4, (v - lo) / 4294967296);
    return;
  }
  const x = BigInt.asUintN(64, v);
  writeU32(b, off, Number(x & 0xffffffffn));
  writeU32(b, off + 4, Number(x >> 32n));
}

/**
 * Writes a header into `target` at `offset`.
 *
 * @param header the fields
 * @param target destination (≥ offset + 32 bytes)
 * @param offset where the frame starts (default 0)
 * @example
 * ```ts
 * const b = new Uint8Array(32);
 * encodeHeader({ relayDomain: 1, source: 2, sequence: 1n }, b);
 * ```
 */
export function encodeHeader(header: HeaderInit, target: Uint8Array, offset = 0): void {
  writeU32(target, offset, header.magic ?? MAGIC);
  target[offset + 4] = header.relayDomain;
  target[offset + 5] = header.version ?? PROTOCOL_VERSION;
  target[offset + 6] = header.source;
  target[offset + 7] = header.flags ?? 0;
  writeU64(target, offset + 8, header.sequence ?? 0);
  writeU64(target, offset + 16, header.timestamp ?? 0);
  writeU32(target, offset + 24, header.payloadSize ?? 0);
  writeU32(target, offset + 28, header.checksum ?? 0);
}

/**
 * Computes the frame's checksum and stores it at bytes 28–31.
 *
 * @param b buffer holding the whole frame
 * @param off frame start
 * @returns the stored checksum
 */
export function sealChecksum(b: Uint8Array, off = 0): number {
  const crc = frameChecksum(b, off, readU32(b, off + 24));
  writeU32(b, off + 28, crc);
  return crc;
}

/**
 * Verifies the stored checksum of a complete frame (2.3).
 *
 * @param b buffer holding the whole frame
 * @param off frame start
 * @returns `absent` when the stored value is 0, else `ok` or `mismatch`
 */
export function checksumStatus(b: Uint8Array, off = 0): ChecksumStatus {
  const stored = readU32(b, off + 28);
  if (stored === 0) return "absent";
  return frameChecksum(b, off, readU32(b, off + 24)) === stored ? "ok" : "mismatch";
}

/**
 * The typed `ChecksumMismatch` error of the frame at `off`.
 *
 * @param b buffer holding the whole frame
 * @param off frame start
 * @returns the error
 */
export function checksumMismatchError(b: Uint8Array, off = 0): FrameError {
  const stored = readU32(b, off + 28);
  const size = readU32(b, off + 24);
  const computed = frameChecksum(b, off, size);
  return new FrameError(
    ErrorCode.ChecksumMismatch,
    `Cannot accept frame: checksum at offset ${off + 28} is ${hex32(stored)}, computed ${
      hex32(computed)
    }`,
    {
      offset: off + 28,
      field: "checksum",
      expected: hex32(computed),
      actual: hex32(stored),
      details: { stored, computed, message_size: HEADER_SIZE + size },
    },
  );
}
