/**
 * Client-side filters (PROTOCOL.md 7.8, "the client library SHOULD also offer
 * local filters"): by TLV type, by source, and by an arbitrary predicate.
 * Type and source checks are compiled into 256-entry masks and run on the
 * receive buffer without allocating; the predicate sees a {@linkcode ReceivedFrame}.
 *
 * @module
 */

import { HEADER_SIZE, readPayloadSize, readTlvAt, TlvCursor } from "../protocol/mod.ts";
import type { ReceivedFrame } from "./received_frame.ts";

/** A TLV type or source: one value, or an inclusive `[from, to]` range. */
export type ByteSelector = number | readonly [from: number, to: number];

/** What a local filter keeps; every given criterion must hold. */
export interface LocalFilterOptions {
  /** Keep frames carrying at least one TLV of these types (values or inclusive ranges). */
  types?: readonly ByteSelector[];
  /** Keep frames whose header source is one of these (values or inclusive ranges). */
  sources?: readonly ByteSelector[];
  /** Keep frames for which this returns true (called last, only for frames passing the rest). */
  predicate?: (frame: ReceivedFrame) => boolean;
}

const cursor = new TlvCursor();

/**
 * A compiled local filter.
 *
 * @example
 * ```ts
 * declare const frame: Uint8Array; // one whole frame
 *
 * const f = new LocalFilter({ types: [32, [60, 79]], sources: [20] });
 * f.matchesBytes(frame, 0, frame.length); // true for an ArbitrageSignal from source 20
 * ```
 */
export class LocalFilter {
  readonly #types: Uint8Array | null;
  readonly #sources: Uint8Array | null;
  /** The predicate, if any. */
  readonly predicate: ((frame: ReceivedFrame) => boolean) | null;

  /**
   * Compiles the criteria.
   *
   * @param options the criteria
   * @throws {RangeError} for a value outside 0–255 or a range with `from > to`
   */
  constructor(options: LocalFilterOptions) {
    this.#types = options.types === undefined ? null : compileMask("types", options.types);
    this.#sources = options.sources === undefined ? null : compileMask("sources", options.sources);
    this.predicate = options.predicate ?? null;
  }

  /**
   * The header and TLV-type checks of the frame at `[start, end)`, without allocating.
   * A TLV area that does not walk keeps only the records before the fault.
   *
   * @param b buffer
   * @param start frame start
   * @param end one past the frame's last byte
   * @returns true when the frame passes the type and source criteria
   */
  matchesBytes(b: Uint8Array, start: number, end: number): boolean {
    const sources = this.#sources;
    if (sources !== null && sources[b[start + 6]!] === 0) return false;
    const types = this.#types;
    if (types === null) return true;
    const areaEnd = Math.min(end, start + HEADER_SIZE + readPayloadSize(b, start));
    let off = start + HEADER_SIZE;
    while (off < areaEnd) {
      const next = readTlvAt(b, off, areaEnd, cursor);
      if (next < 0) return false;
      if (types[cursor.type] === 1) return true;
      off = next;
    }
    return false;
  }

  /**
   * Every criterion, for a frame already wrapped.
   *
   * @param frame the frame
   * @returns true when the frame is kept
   */
  matches(frame: ReceivedFrame): boolean {
    const b = frame.bytes;
    if (!this.matchesBytes(b, 0, b.length)) return false;
    return this.predicate === null || this.predicate(frame);
  }
}

function compileMask(what: string, selectors: readonly ByteSelector[]): Uint8Array {
  const mask = new Uint8Array(256);
  for (const s of selectors) {
    const [from, to] = typeof s === "number" ? [s, s] : s;
    if (!isByte(from) || !isByte(to) || from > to) {
      throw new RangeError(
        `Cannot build local filter: ${what} entry ${
          JSON.stringify(s)
        } is not a value or range within 0–255`,
      );
    }
    mask.fill(1, from, to + 1);
  }
  return mask;
}

function isByte(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 255;
}
