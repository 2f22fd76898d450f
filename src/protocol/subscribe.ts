/**
 * The `Subscribe` control TLV (type 113, PROTOCOL.md 7.8): version, mode and a
 * list of `[len u8][UTF-8]` patterns. Shared by the relay (which consumes it and
 * answers) and the client library (which sends it and waits for the answer).
 *
 * @module
 */

import { ErrorCode, FrameError } from "./errors.ts";

/** TLV type of Subscribe. */
export const SUBSCRIBE_TLV = 113;
/** TLV type used for the textual reason of a refused Subscribe (Error, 102). */
export const ERROR_TLV = 102;

/** How a Subscribe changes the connection's filter. */
export const SubscribeMode = { replace: 0, add: 1, remove: 2 } as const;
/** A mode value. */
export type SubscribeMode = typeof SubscribeMode[keyof typeof SubscribeMode];

/** A parsed Subscribe. */
export interface SubscribeRequest {
  /** Layout version (1). */
  version: number;
  /** 0 replace, 1 add, 2 remove. */
  mode: number;
  /** Patterns in wire order. */
  patterns: string[];
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * Parses a Subscribe value.
 *
 * @param value the TLV value bytes
 * @returns the request
 * @throws {FrameError} `MalformedSubscribe` naming the offset within the value
 * @example
 * ```ts
 * parseSubscribe(encodeSubscribe({ mode: 0, patterns: ["tlv.32"] })).patterns; // ["tlv.32"]
 * ```
 */
export function parseSubscribe(value: Uint8Array): SubscribeRequest {
  const action = "Cannot parse Subscribe";
  if (value.length < 4) {
    throw malformed(action, 0, `value is ${value.length} bytes, expected at least 4`);
  }
  const version = value[0]!;
  const mode = value[1]!;
  if (version !== 1) throw malformed(action, 0, `version is ${version}, expected 1`);
  if (mode > 2) {
    throw malformed(action, 1, `mode is ${mode}, expected 0 (replace), 1 (add) or 2 (remove)`);
  }
  return { version, mode, patterns: decodePatternList(value, 4) };
}

function malformed(
  action: string,
  offset: number,
  why: string,
  details: Record<string, number> = {},
): FrameError {
  return new FrameError(ErrorCode.MalformedSubscribe, `${action}: ${why}`, {
    offset,
    field: "patterns",
    details,
  });
}

/**
 * Reads the `[len u8][UTF-8]` pattern list of a Subscribe value from `from` to its end.
 *
 * @param value the TLV value bytes
 * @param from offset of the first pattern (4)
 * @param action the failed action named in errors (default `Cannot parse Subscribe`)
 * @returns the patterns
 * @throws {FrameError} `MalformedSubscribe` naming the offset of the bad pattern's length byte
 */
export function decodePatternList(
  value: Uint8Array,
  from: number,
  action = "Cannot parse Subscribe",
): string[] {
  const patterns: string[] = [];
  let off = from;
  while (off < value.length) {
    const n = value[off]!;
    const available = value.length - off - 1;
    const at = `pattern at offset ${off}`;
    if (n === 0) throw malformed(action, off, `${at} is empty`, { need: 1, available });
    if (n > available) {
      throw malformed(action, off, `${at} needs ${n} bytes, ${available} left`, {
        need: n,
        available,
      });
    }
    try {
      patterns.push(decoder.decode(value.subarray(off + 1, off + 1 + n)));
    } catch {
      throw malformed(action, off, `${at} is not valid UTF-8`, { length: n });
    }
    off += 1 + n;
  }
  return patterns;
}

/**
 * Encodes a Subscribe value.
 *
 * @param request mode and patterns (version defaults to 1)
 * @returns the value bytes
 * @throws {FrameError} `MalformedSubscribe` for an empty or over-long pattern
 */
export function encodeSubscribe(
  request: { mode: number; patterns: readonly string[]; version?: number },
): Uint8Array {
  const parts = request.patterns.map((p) => encoder.encode(p));
  let size = 4;
  for (const [i, p] of parts.entries()) {
    if (p.length === 0 || p.length > 255) {
      throw new FrameError(
        ErrorCode.MalformedSubscribe,
        `Cannot encode Subscribe: pattern ${i} is ${p.length} bytes, expected 1–255`,
        { field: "patterns", actual: p.length },
      );
    }
    size += 1 + p.length;
  }
  const out = new Uint8Array(size);
  out[0] = request.version ?? 1;
  out[1] = request.mode;
  let off = 4;
  for (const p of parts) {
    out[off] = p.length;
    out.set(p, off + 1);
    off += 1 + p.length;
  }
  return out;
}

/**
 * Encodes the reason of a refused Subscribe as an Error (102) value: UTF-8,
 * zero-padded to the type's 16-byte minimum, cut to 512 bytes.
 *
 * @param reason the reason
 * @returns the value bytes
 */
export function encodeErrorText(reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 512);
  const out = new Uint8Array(Math.max(16, text.length));
  out.set(text);
  return out;
}

/**
 * Decodes an Error (102) value written by {@linkcode encodeErrorText}.
 *
 * @param value the value bytes
 * @returns the reason text
 */
export function decodeErrorText(value: Uint8Array): string {
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end--;
  return new TextDecoder().decode(value.subarray(0, end));
}
