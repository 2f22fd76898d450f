/**
 * Per-source sequence tracking of received frames (PROTOCOL.md 2.2, 7.9):
 * gaps (sequence jumped ahead), duplicates (sequence not above the last) and
 * restarts (sequence 1, or far below the last: the producer numbers anew).
 * A client talks to one relay, so "per (relay, source)" is per source byte.
 *
 * `check()` is allocation-free: sequences are compared as two u32 halves and
 * BigInt values are built only when a gap or duplicate is reported.
 *
 * @module
 */

import { readSequenceHigh, readSequenceLow } from "../protocol/mod.ts";

/** Outcome of {@linkcode SequenceTracker.check}. */
export const SequenceVerdict = {
  /** The next number (last + 1). */
  ok: 0,
  /** Sequence 0: never checked. */
  unsequenced: 1,
  /** First sequenced frame of this source. */
  first: 2,
  /** Jumped ahead: `previous` + 1 was expected. */
  gap: 3,
  /** Not above the last one seen (replay, duplicate or regression). */
  duplicate: 4,
  /**
   * The producer restarted its numbering: sequence 1 after a higher one, or a
   * sequence more than the restart window below the last one. Tracking
   * continues from the new number (later frames are not duplicates).
   */
  restart: 5,
} as const;

/** A value of {@linkcode SequenceVerdict}. */
export type SequenceVerdict = typeof SequenceVerdict[keyof typeof SequenceVerdict];

/** Default restart window: a sequence more than this far below the last one is a restart. */
export const DEFAULT_RESTART_WINDOW = 1000;

/**
 * Remembers the highest sequence seen per source.
 *
 * @example
 * ```ts
 * declare const frame1: Uint8Array; // source 20, sequence 1
 * declare const frame3: Uint8Array; // source 20, sequence 3
 *
 * const t = new SequenceTracker();
 * t.check(frame1, 0); // SequenceVerdict.first
 * t.check(frame3, 0); // SequenceVerdict.gap
 * t.previous(); // 1n
 * ```
 */
export class SequenceTracker {
  readonly #hi = new Uint32Array(256);
  readonly #lo = new Uint32Array(256);
  readonly #seen = new Uint8Array(256);
  /** Per source: the first sequence since it was first seen or restarted (see {@linkcode first}). */
  readonly #firstHi = new Uint32Array(256);
  readonly #firstLo = new Uint32Array(256);
  /** 1 for a source not yet seen since {@linkcode resume}: any step back is a restart. */
  readonly #resumed = new Uint8Array(256);
  // The last value before the most recent check (for reports).
  #prevHi = 0;
  #prevLo = 0;
  /** The source of the most recent check that moved its sequence (for {@linkcode undo}). */
  #lastSrc = -1;
  readonly #window: number;

  /**
   * Makes a tracker.
   *
   * @param restartWindow a sequence more than this far below the last one is a
   *   restart, not a duplicate (default {@linkcode DEFAULT_RESTART_WINDOW})
   */
  constructor(restartWindow: number = DEFAULT_RESTART_WINDOW) {
    this.#window = restartWindow;
  }

  /**
   * Checks the frame at `off` and records its sequence when it moves forward.
   *
   * @param b buffer
   * @param off frame start
   * @returns the verdict
   */
  check(b: Uint8Array, off: number): SequenceVerdict {
    const lo = readSequenceLow(b, off);
    const hi = readSequenceHigh(b, off);
    if (lo === 0 && hi === 0) return SequenceVerdict.unsequenced;
    const src = b[off + 6]!;
    this.#lastSrc = -1;
    if (this.#seen[src] === 0) {
      this.#seen[src] = 1;
      this.#hi[src] = hi;
      this.#lo[src] = lo;
      this.#firstHi[src] = hi;
      this.#firstLo[src] = lo;
      return SequenceVerdict.first;
    }
    const lhi = this.#hi[src]!;
    const llo = this.#lo[src]!;
    this.#prevHi = lhi;
    this.#prevLo = llo;
    const resumed = this.#resumed[src] === 1;
    this.#resumed[src] = 0;
    if (hi < lhi || (hi === lhi && lo <= llo)) {
      // How far back, without BigInt (exact below 2^53).
      const back = (lhi - hi) * 4294967296 + (llo - lo);
      if (resumed || (hi === 0 && lo === 1 && back > 0) || back > this.#window) {
        this.#lo[src] = lo;
        this.#hi[src] = hi;
        this.#firstHi[src] = hi;
        this.#firstLo[src] = lo;
        return SequenceVerdict.restart;
      }
      return SequenceVerdict.duplicate;
    }
    this.#hi[src] = hi;
    this.#lo[src] = lo;
    this.#lastSrc = src;
    const elo = (llo + 1) >>> 0;
    const ehi = elo === 0 ? lhi + 1 : lhi;
    return hi === ehi && lo === elo ? SequenceVerdict.ok : SequenceVerdict.gap;
  }

  /**
   * The last sequence recorded before the most recent `check()` (meaningful
   * after a `gap`, `duplicate` or `restart` verdict).
   *
   * @returns the previous sequence
   */
  previous(): bigint {
    return (BigInt(this.#prevHi) << 32n) | BigInt(this.#prevLo);
  }

  /**
   * The highest sequence recorded for a source.
   *
   * @param source source byte
   * @returns the sequence, or `undefined` when none was seen
   */
  last(source: number): bigint | undefined {
    if (this.#seen[source] !== 1) return undefined;
    return (BigInt(this.#hi[source]!) << 32n) | BigInt(this.#lo[source]!);
  }

  /**
   * The first sequence of a source since it was first seen or restarted its
   * numbering: with {@linkcode last}, the range of sequences received (less the
   * gaps reported meanwhile).
   *
   * @param source source byte
   * @returns the sequence, or `undefined` when none was seen
   */
  first(source: number): bigint | undefined {
    if (this.#seen[source] !== 1) return undefined;
    return (BigInt(this.#firstHi[source]!) << 32n) | BigInt(this.#firstLo[source]!);
  }

  /**
   * Moves a source's first sequence down (older frames of it were received
   * later, e.g. replayed by the relay).
   *
   * @param source source byte
   * @param sequence the new first sequence (ignored unless below the current one)
   */
  extendFirst(source: number, sequence: bigint): void {
    const first = this.first(source);
    if (first === undefined || sequence >= first || sequence <= 0n) return;
    this.#firstHi[source] = Number(sequence >> 32n);
    this.#firstLo[source] = Number(sequence & 0xffffffffn);
  }

  /**
   * Takes back the most recent `check()` when it moved a sequence forward
   * (`ok` or `gap`): the source's last sequence is the previous one again, so
   * the same frame can be checked again later (e.g. after the frames of the
   * gap were fetched). Does nothing after any other verdict.
   */
  undo(): void {
    const src = this.#lastSrc;
    if (src < 0) return;
    this.#hi[src] = this.#prevHi;
    this.#lo[src] = this.#prevLo;
    this.#lastSrc = -1;
  }

  /**
   * The sources seen so far, ascending.
   *
   * @returns source bytes
   */
  sources(): number[] {
    const out: number[] = [];
    for (let s = 0; s < 256; s++) if (this.#seen[s] === 1) out.push(s);
    return out;
  }

  /**
   * After a reconnect: the first frame of each known source that does not move
   * forward is a restart (its producer numbered anew while we were away), not
   * a duplicate; one that moves forward is judged as before, so what was lost
   * meanwhile is still a gap.
   */
  resume(): void {
    this.#resumed.set(this.#seen);
  }

  /** Forgets every source. */
  reset(): void {
    this.#seen.fill(0);
    this.#resumed.fill(0);
  }
}
