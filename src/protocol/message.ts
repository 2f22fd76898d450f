/**
 * Whole-message decoding (PROTOCOL.md 2.4, 4.5): header checks in the spec's
 * order, checksum, TLV walk, registry size rules, then typed payload decoding.
 * A payload that obeys its size rule but cannot be decoded field by field keeps
 * the message valid: that TLV gets `fields: null` and an `error`.
 *
 * @module
 */

import {
  checkFrameStart,
  checksumMismatchError,
  type ChecksumStatus,
  checksumStatus,
  decodeHeader,
  frameStartError,
  type Header,
  HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
} from "./header.ts";
import { ErrorCode, FrameError, Status } from "./errors.ts";
import { type DomainName, domainName, fromLegacyDomain, sourceName } from "./domains.ts";
import { type TlvForm, walkTlvs } from "./tlv.ts";
import { checkTlvSize, tlvSizeError, tlvType } from "./registry.ts";
import { decodePayload, hasLayout, type PayloadFields } from "./payloads.ts";

/** Options of {@linkcode decodeMessage}. */
export interface DecodeOptions {
  /** Verify a non-zero checksum (default true). */
  verifyChecksum?: boolean;
  /** Apply registry size rules of known types (default true). */
  checkSizes?: boolean;
  /** Read domains 0–3 and the legacy source numbers (3.1, 3.3). */
  legacyNumbering?: boolean;
  /** Largest accepted payload_size (default 1,048,544). */
  maxPayload?: number;
}

/** One decoded TLV. */
export interface DecodedTlv {
  /** TLV type. */
  type: number;
  /** Registry name, if the type is assigned. */
  name: string | undefined;
  /** Encoding form. */
  form: TlvForm;
  /** Absolute offset of the record within the message. */
  offset: number;
  /** Value length. */
  length: number;
  /** The value bytes (a view of the input). */
  value: Uint8Array;
  /** Typed fields, or null for opaque/unknown types and undecodable payloads. */
  fields: PayloadFields | null;
  /** Why `fields` is null although the type has a layout. */
  error?: FrameError;
}

/** A decoded message. */
export interface DecodedMessage {
  /** The header as on the wire. */
  header: Header;
  /** The domain's name (after legacy mapping when asked for). */
  domain: DomainName | undefined;
  /** The source's name in the numbering used. */
  sourceName: string | undefined;
  /** Checksum verification result. */
  checksumStatus: ChecksumStatus;
  /** TLVs in wire order. */
  tlvs: DecodedTlv[];
  /** Whole message size (32 + payload_size). */
  size: number;
}

/**
 * Decodes one complete message held in `bytes` (extra bytes are `TrailingBytes`).
 *
 * @param bytes exactly one frame
 * @param options checks to apply
 * @returns the decoded message
 * @throws {FrameError} the first failed check, named as in the error catalogue
 * @example
 * ```ts
 * declare const frame: Uint8Array;
 *
 * const msg = decodeMessage(frame);
 * msg.tlvs[0]?.fields?.price; // 4512350000000n
 * ```
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeOptions = {}): DecodedMessage {
  const msg = decodeFrameAt(bytes, 0, options);
  if (msg.size !== bytes.length) {
    throw new FrameError(
      ErrorCode.TrailingBytes,
      `Cannot decode message: ${bytes.length - msg.size} bytes follow the ${msg.size}-byte frame`,
      {
        offset: msg.size,
        expected: msg.size,
        actual: bytes.length,
        details: { frame_size: msg.size, buffer_size: bytes.length },
      },
    );
  }
  return msg;
}

/**
 * Decodes every frame of a buffer holding several concatenated messages.
 *
 * @param bytes back-to-back frames
 * @param options checks to apply
 * @returns the messages in order
 * @throws {FrameError} on the first bad frame (its offset is absolute in `bytes`)
 */
export function decodeMessages(bytes: Uint8Array, options: DecodeOptions = {}): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  let off = 0;
  while (off < bytes.length) {
    const msg = decodeFrameAt(bytes, off, options);
    out.push(msg);
    off += msg.size;
  }
  return out;
}

/**
 * Decodes the frame starting at `offset` of `bytes`; bytes after it are ignored.
 *
 * @param bytes buffer
 * @param offset frame start
 * @param options checks to apply
 * @returns the decoded message (offsets in it are relative to the frame)
 * @throws {FrameError} the first failed check; its offset is absolute in `bytes`
 */
export function decodeFrameAt(
  bytes: Uint8Array,
  offset: number,
  options: DecodeOptions = {},
): DecodedMessage {
  const maxPayload = options.maxPayload ?? MAX_PAYLOAD_SIZE;
  const status = checkFrameStart(bytes, offset, bytes.length, maxPayload);
  if (status !== Status.OK) throw frameStartError(status, bytes, offset, bytes.length, maxPayload);
  const header = decodeHeader(bytes, offset);
  const size = HEADER_SIZE + header.payloadSize;
  const frame = bytes.subarray(offset, offset + size);
  const legacy = options.legacyNumbering ?? false;
  const domainValue = legacy ? fromLegacyDomain(header.relayDomain) : header.relayDomain;
  const domain = domainName(domainValue);
  if (domain === undefined) {
    const expected = legacy ? "0-3" : "1-4";
    throw new FrameError(
      ErrorCode.InvalidRelayDomain,
      `Cannot decode header: relay_domain at offset ${
        offset + 4
      } is ${header.relayDomain}, expected ${expected}`,
      {
        offset: offset + 4,
        field: "relay_domain",
        expected,
        actual: header.relayDomain,
        details: { got: header.relayDomain },
      },
    );
  }
  const crc = checksumStatus(frame, 0);
  if (crc === "mismatch" && (options.verifyChecksum ?? true)) {
    throw shift(checksumMismatchError(frame, 0), offset);
  }
  let records;
  try {
    records = walkTlvs(frame, HEADER_SIZE, size);
  } catch (e) {
    throw e instanceof FrameError ? shift(e, offset) : e;
  }
  const checkSizes = options.checkSizes ?? true;
  const tlvs: DecodedTlv[] = [];
  for (const r of records) {
    if (checkSizes && checkTlvSize(r.type, r.length) !== Status.OK) {
      throw tlvSizeError(r.type, r.length, offset + r.offset);
    }
    const tlv: DecodedTlv = {
      type: r.type,
      name: tlvType(r.type)?.name,
      form: r.form,
      offset: r.offset,
      length: r.length,
      value: r.value,
      fields: null,
    };
    if (hasLayout(r.type)) {
      try {
        tlv.fields = decodePayload(r.type, r.value);
      } catch (e) {
        if (!(e instanceof FrameError)) throw e;
        tlv.error = shift(e, r.offset + (r.form === "extended" ? 5 : 2), true);
      }
    }
    tlvs.push(tlv);
  }
  return {
    header,
    domain,
    sourceName: sourceName(header.source, legacy),
    checksumStatus: crc,
    tlvs,
    size,
  };
}

/**
 * The same error with its offset moved by `delta` (to make it absolute);
 * `orStart` places an error without offset at `delta` itself.
 */
function shift(e: FrameError, delta: number, orStart = false): FrameError {
  if (delta === 0 || (e.offset === undefined && !orStart)) return e;
  const options = {
    offset: (e.offset ?? 0) + delta,
    details: e.details,
    ...(e.field === undefined ? {} : { field: e.field }),
    ...(e.expected === undefined ? {} : { expected: e.expected }),
    ...(e.actual === undefined ? {} : { actual: e.actual }),
  };
  return new FrameError(e.code, e.message, options);
}
