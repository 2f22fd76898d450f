/**
 * Validation policies (PROTOCOL.md 7.5): performance, standard and audit, as
 * one allocation-free check over a frame held in the read buffer. Hard failures
 * are never forwarded; soft failures are forwarded with a counted warning unless
 * `strict` is set **[D-23]**.
 *
 * @module
 */

import {
  checkTlvArea,
  checkTlvSize,
  frameChecksum,
  isKnownSource,
  readChecksum,
  readPayloadSize,
  readSequenceHigh,
  readSequenceLow,
  readTimestampApprox,
  readTlvAt,
  Status,
  TlvCursor,
} from "../protocol/mod.ts";
import type { RelayLogic } from "./logic.ts";

/** The three policies. */
export type PolicyName = "performance" | "standard" | "audit";

/** Options of a {@linkcode Validator}. */
export interface ValidatorOptions {
  /** Policy. */
  policy: PolicyName;
  /** Drop soft failures too. */
  strict: boolean;
  /** Accepted TLV types under audit: `allowed[t] === 1`. */
  allowedTlv: Uint8Array;
  /** Canonical sources only (audit). */
  strictSourceCheck: boolean;
  /** Largest tolerated sequence gap (audit, soft). */
  maxSequenceGap: number;
  /** Timestamp window into the future in ms (audit, soft). */
  maxFutureMs: number;
  /** Timestamp window into the past in ms (audit, soft). */
  maxAgeMs: number;
}

/** Per-connection, per-source sequence memory for the audit policy (no BigInt). */
export class SequenceState {
  /** High 32 bits of the last sequence per source; -1 = none seen. */
  readonly hi: Float64Array = new Float64Array(256).fill(-1);
  /** Low 32 bits of the last sequence per source. */
  readonly lo: Float64Array = new Float64Array(256);
}

/**
 * Applies a policy to frames. `check()` returns `Status.OK` (forward), or the
 * hard failure; soft failures met along the way are left in `soft` (a bit per
 * status) so the caller can count them and, when `strict`, drop the frame.
 */
export class Validator {
  readonly #o: ValidatorOptions;
  readonly #cursor = new TlvCursor();
  /** Bit set of soft statuses met by the last `check()` (1 << Status). */
  soft = 0;
  /** The last failed check's facts (for error reports). */
  readonly cursor: TlvCursor = this.#cursor;
  /** The type of a TLV rejected by size or domain rules. */
  badType = 0;
  /**
   * The sequence before the last `SequenceGap` soft failure, as its high and low
   * 32-bit words: the exact gap is the frame's sequence minus this minus 1,
   * computed as a bigint when the reject is explained (numbers here, so the
   * check allocates nothing; a gap near 2^64 does not fit a number exactly).
   */
  gapFromHi = 0;
  /** Low word of the sequence before the last `SequenceGap` (see `gapFromHi`). */
  gapFromLo = 0;
  // The sequence the last check() saw, applied by commit() only if the frame is forwarded.
  #seqSource = -1;
  #seqHi = 0;
  #seqLo = 0;

  /** @param options the policy and its limits */
  constructor(options: ValidatorOptions) {
    this.#o = options;
  }

  /** The policy name. */
  get policy(): PolicyName {
    return this.#o.policy;
  }

  /** Whether soft failures are dropped. */
  get strict(): boolean {
    return this.#o.strict;
  }

  /**
   * Checks the frame `[s, e)` of `b` (already framed, own domain, payload > 0).
   * Allocation-free.
   *
   * @param b read buffer
   * @param s frame start
   * @param e frame end
   * @param seq the sending connection's sequence memory
   * @param nowMs receive time (ms), for the audit timestamp window
   * @returns `Status.OK` or a hard failure; soft failures in `soft`. The frame's
   * sequence becomes its source's last one only with {@linkcode commit}.
   */
  check(b: Uint8Array, s: number, e: number, seq: SequenceState, nowMs: number): Status {
    const o = this.#o;
    this.soft = 0;
    this.#seqSource = -1;
    if (o.policy === "performance") return Status.OK;
    const stored = readChecksum(b, s);
    if (stored !== 0) {
      if (frameChecksum(b, s, readPayloadSize(b, s)) !== stored) return Status.ChecksumMismatch;
    } else if (o.policy === "audit") {
      this.soft |= 1 << Status.MissingChecksum;
    }
    const cur = this.#cursor;
    if (o.policy === "standard") return checkTlvArea(b, s + 32, e, cur);
    // audit: walk with size and domain-range rules
    let off = s + 32;
    while (off < e) {
      const next = readTlvAt(b, off, e, cur);
      if (next < 0) return -next as Status;
      const t = cur.type;
      if (o.allowedTlv[t] !== 1) {
        this.badType = t;
        return Status.TlvNotAllowedInDomain;
      }
      const size = checkTlvSize(t, cur.length);
      if (size !== Status.OK) {
        this.badType = t;
        return size;
      }
      off = next;
    }
    const source = b[s + 6]!;
    if (!isKnownSource(source, o.strictSourceCheck)) this.soft |= 1 << Status.UnknownSource;
    const hi = readSequenceHigh(b, s);
    const lo = readSequenceLow(b, s);
    if (hi !== 0 || lo !== 0) {
      const lastHi = seq.hi[source]!;
      if (lastHi >= 0) {
        const lastLo = seq.lo[source]!;
        if (hi < lastHi || (hi === lastHi && lo <= lastLo)) return Status.SequenceRegression;
        // gap = new - last - 1, exact while the difference fits 2^53
        const gap = (hi - lastHi) * 4294967296 + (lo - lastLo) - 1;
        if (gap > o.maxSequenceGap) {
          this.soft |= 1 << Status.SequenceGap;
          this.gapFromHi = lastHi;
          this.gapFromLo = lastLo;
        }
      }
      this.#seqSource = source;
      this.#seqHi = hi;
      this.#seqLo = lo;
    }
    const tsMs = readTimestampApprox(b, s) / 1e6;
    if (tsMs > nowMs + o.maxFutureMs || tsMs < nowMs - o.maxAgeMs) {
      this.soft |= 1 << Status.TimestampOutOfWindow;
    }
    return Status.OK;
  }

  /**
   * Records the sequence of the frame the last {@linkcode check} passed as its
   * source's last one: call it only when the frame is forwarded, so a frame
   * dropped for a soft failure (a gap, a stale timestamp under `strict`) does
   * not move the sequence and its retry is accepted.
   *
   * @param seq the sending connection's sequence memory
   */
  commit(seq: SequenceState): void {
    const src = this.#seqSource;
    if (src < 0) return;
    seq.hi[src] = this.#seqHi;
    seq.lo[src] = this.#seqLo;
    this.#seqSource = -1;
  }
}

/**
 * The TLV types an audit relay of `domain` accepts **[D-6]**: market data 1–19;
 * signal 20–39 and 60–79; execution 40–79; every domain 100–119; vendor 200–254
 * only with `allowVendor`.
 *
 * @param domain wire domain (1–4)
 * @param allowVendor accept 200–254
 * @returns a 256-entry mask, 1 = accepted
 */
export function auditTlvRanges(domain: number, allowVendor: boolean): Uint8Array {
  const m = new Uint8Array(256);
  const allow = (from: number, to: number) => m.fill(1, from, to + 1);
  if (domain === 1) allow(1, 19);
  if (domain === 2) {
    allow(20, 39);
    allow(60, 79);
  }
  if (domain === 3) allow(40, 79);
  if (domain === 4) allow(80, 119);
  allow(100, 119);
  if (allowVendor) allow(200, 254);
  return m;
}

/**
 * The validator of a relay's logic: its policy, strictness and audit limits.
 *
 * @param logic the relay's logic
 * @returns a validator applying it
 * @example
 * ```ts
 * import { SIGNAL_LOGIC } from "./logic.ts";
 *
 * validatorForLogic(SIGNAL_LOGIC).policy; // "standard"
 * ```
 */
export function validatorForLogic(logic: RelayLogic): Validator {
  return new Validator({
    policy: logic.policy,
    strict: logic.strict,
    allowedTlv: auditTlvRanges(logic.domain, logic.allowVendor),
    strictSourceCheck: logic.strictSourceCheck,
    maxSequenceGap: logic.maxSequenceGap,
    maxFutureMs: logic.maxFutureMs,
    maxAgeMs: logic.maxAgeMs,
  });
}
