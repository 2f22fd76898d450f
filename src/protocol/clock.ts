/**
 * Nanosecond wall-clock time without BigInt on the hot path: the header's
 * timestamp is written as two u32 halves computed exactly from milliseconds.
 *
 * @module
 */

import { writeU32 } from "./header.ts";

const TWO32 = 4294967296;
/** Read once: the property is slow to read on every call. */
const ORIGIN = performance.timeOrigin;

/**
 * Current wall-clock time in milliseconds with a sub-millisecond fraction.
 *
 * @returns ms since the Unix epoch
 */
export function nowMs(): number {
  return ORIGIN + performance.now();
}

/**
 * Writes `ms` (a float millisecond time) as a u64 LE nanosecond count at `off`,
 * exactly for integer ms and to the microsecond for the fraction.
 *
 * @param b destination
 * @param off where the u64 goes
 * @param ms milliseconds since the epoch
 */
export function writeNsFromMs(b: Uint8Array, off: number, ms: number): void {
  const whole = Math.floor(ms);
  const sub = Math.round((ms - whole) * 1e6);
  const msLo = whole % TWO32;
  const msHi = (whole - msLo) / TWO32;
  const t = msLo * 1e6 + sub; // < 2^53, exact
  const lo = t % TWO32;
  const hi = msHi * 1e6 + (t - lo) / TWO32;
  writeU32(b, off, lo);
  writeU32(b, off + 4, hi);
}

/**
 * Current time as lossless bigint nanoseconds since the Unix epoch.
 *
 * @returns ns since the epoch
 * @example
 * ```ts
 * nowNs() > 1_700_000_000_000_000_000n; // true
 * ```
 */
export function nowNs(): bigint {
  const ms = nowMs();
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}
