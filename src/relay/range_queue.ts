/**
 * A consumer's outbound queue: a FIFO ring of byte ranges of shared buffers,
 * each with its frame count and the slab it holds (see slab.ts).
 *
 * The ring's arrays are allocated when it grows, never per entry: queuing a
 * range allocates nothing, so the hundreds of thousands of entries a second a
 * busy relay queues leave no garbage behind. It grows by doubling when full and
 * shrinks back when it empties after a backlog.
 *
 * @module
 */

import type { Slab } from "./slab.ts";

/** Entries a new (or shrunk) ring holds. */
const INITIAL = 16;
/** An empty ring larger than this shrinks back to {@linkcode INITIAL}. */
const SHRINK_ABOVE = 4_096;

/**
 * FIFO of `(buffer, start, end, frames, slab, tag)` entries; `tag` is a number
 * the owner gives each entry (a consumer's queue: its place in the order of
 * everything queued to the connection; the replay window: when it was
 * forwarded). Entries can be read by index as well as at the head.
 *
 * @example
 * ```ts
 * const bytes = new Uint8Array(64);
 * const q = new RangeQueue();
 * q.push(bytes, 0, 64, 1, null);
 * q.headEnd - q.headStart; // 64
 * q.shift();
 * ```
 */
export class RangeQueue {
  #bufs: (Uint8Array | null)[] = new Array(INITIAL).fill(null);
  #slabs: (Slab | null)[] = new Array(INITIAL).fill(null);
  #starts = new Int32Array(INITIAL);
  #ends = new Int32Array(INITIAL);
  #frames = new Int32Array(INITIAL);
  #tags = new Float64Array(INITIAL);
  #mask = INITIAL - 1;
  #head = 0;
  /** Entries queued. */
  length = 0;

  /** Entries the ring holds before it grows. */
  get capacity(): number {
    return this.#mask + 1;
  }

  /**
   * Appends an entry.
   *
   * @param buf the bytes (shared; not copied)
   * @param start first byte of the range
   * @param end end of the range
   * @param frames frames in the range
   * @param slab the slab `buf` belongs to, or null (not retained here)
   * @param tag the owner's number for the entry
   */
  push(
    buf: Uint8Array,
    start: number,
    end: number,
    frames: number,
    slab: Slab | null,
    tag = 0,
  ): void {
    if (this.length > this.#mask) this.#resize((this.#mask + 1) * 2);
    const i = (this.#head + this.length) & this.#mask;
    this.#bufs[i] = buf;
    this.#slabs[i] = slab;
    this.#starts[i] = start;
    this.#ends[i] = end;
    this.#frames[i] = frames;
    this.#tags[i] = tag;
    this.length++;
  }

  /** The oldest entry's buffer (only when `length > 0`). */
  get headBuf(): Uint8Array {
    return this.#bufs[this.#head]!;
  }

  /** The oldest entry's first byte. */
  get headStart(): number {
    return this.#starts[this.#head]!;
  }

  /** The oldest entry's end. */
  get headEnd(): number {
    return this.#ends[this.#head]!;
  }

  /** The oldest entry's frame count. */
  get headFrames(): number {
    return this.#frames[this.#head]!;
  }

  /** The oldest entry's slab, or null. */
  get headSlab(): Slab | null {
    return this.#slabs[this.#head]!;
  }

  /** The oldest entry's tag. */
  get headTag(): number {
    return this.#tags[this.#head]!;
  }

  /**
   * The buffer of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its buffer
   */
  bufAt(k: number): Uint8Array {
    return this.#bufs[(this.#head + k) & this.#mask]!;
  }

  /**
   * The first byte of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its start
   */
  startAt(k: number): number {
    return this.#starts[(this.#head + k) & this.#mask]!;
  }

  /**
   * The end of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its end
   */
  endAt(k: number): number {
    return this.#ends[(this.#head + k) & this.#mask]!;
  }

  /**
   * The slab of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its slab, or null
   */
  slabAt(k: number): Slab | null {
    return this.#slabs[(this.#head + k) & this.#mask]!;
  }

  /**
   * The tag of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its tag
   */
  tagAt(k: number): number {
    return this.#tags[(this.#head + k) & this.#mask]!;
  }

  /**
   * The byte length of the entry `k` places after the oldest.
   *
   * @param k 0 for the oldest, up to `length - 1`
   * @returns its end minus its start
   */
  lengthAt(k: number): number {
    const i = (this.#head + k) & this.#mask;
    return this.#ends[i]! - this.#starts[i]!;
  }

  /** Removes the oldest entry (its slab is the caller's to release). */
  shift(): void {
    const h = this.#head;
    this.#bufs[h] = null;
    this.#slabs[h] = null;
    this.#head = (h + 1) & this.#mask;
    if (--this.length === 0) {
      this.#head = 0;
      if (this.#mask + 1 > SHRINK_ABOVE) this.#resize(INITIAL);
    }
  }

  #resize(size: number): void {
    const bufs: (Uint8Array | null)[] = new Array(size).fill(null);
    const slabs: (Slab | null)[] = new Array(size).fill(null);
    const starts = new Int32Array(size);
    const ends = new Int32Array(size);
    const frames = new Int32Array(size);
    const tags = new Float64Array(size);
    for (let k = 0; k < this.length; k++) {
      const i = (this.#head + k) & this.#mask;
      bufs[k] = this.#bufs[i]!;
      slabs[k] = this.#slabs[i]!;
      starts[k] = this.#starts[i]!;
      ends[k] = this.#ends[i]!;
      frames[k] = this.#frames[i]!;
      tags[k] = this.#tags[i]!;
    }
    this.#bufs = bufs;
    this.#slabs = slabs;
    this.#starts = starts;
    this.#ends = ends;
    this.#frames = frames;
    this.#tags = tags;
    this.#mask = size - 1;
    this.#head = 0;
  }
}
