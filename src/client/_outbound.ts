/**
 * The client's outbound byte queue. `push()` copies a frame to the end of a
 * growing buffer (no per-frame objects or promises); `take()` hands everything
 * queued to the one write in flight and continues queueing into a second
 * buffer (double buffering: the in-flight bytes are never touched until their
 * write ends). Totals of bytes queued and written let callers wait for "all
 * queued so far" with one number.
 *
 * @module
 */

import { HEADER_SIZE, readU32 } from "../protocol/mod.ts";

const INITIAL_CAPACITY = 65_536;
/** Buffers above this size are not kept for reuse after a burst. */
const KEEP_CAPACITY = 1_048_576;

/**
 * Frames waiting to be written, plus the chunk being written.
 *
 * @example
 * ```ts
 * declare const frame: Uint8Array; // one whole frame
 *
 * const q = new OutboundQueue();
 * q.push(frame);
 * const chunk = q.take()!; // write it, then:
 * q.done();
 * ```
 */
export class OutboundQueue {
  #queued = new Uint8Array(INITIAL_CAPACITY);
  #len = 0;
  #frames = 0;
  #spare: Uint8Array<ArrayBuffer> | null = null;
  #inflight: Uint8Array | null = null;
  #inflightBuffer: Uint8Array<ArrayBuffer> | null = null;
  #inflightFrames = 0;
  /** Total bytes ever pushed. */
  enqueued = 0;
  /** Total bytes whose write completed (or that were discarded by `clear()`). */
  committed = 0;

  /** Bytes queued and not yet taken. */
  get queuedBytes(): number {
    return this.#len;
  }

  /** Bytes queued plus the chunk being written. */
  get pendingBytes(): number {
    return this.#len + (this.#inflight === null ? 0 : this.#inflight.length);
  }

  /** Frames queued plus those of the chunk being written. */
  get pendingFrames(): number {
    return this.#frames + this.#inflightFrames;
  }

  /** Whether a chunk is being written. */
  get inflight(): boolean {
    return this.#inflight !== null;
  }

  /**
   * Appends a copy of one complete frame.
   *
   * @param frame the frame
   */
  push(frame: Uint8Array): void {
    const need = this.#len + frame.length;
    if (need > this.#queued.length) this.#grow(need);
    this.#queued.set(frame, this.#len);
    this.#len = need;
    this.#frames++;
    this.enqueued += frame.length;
  }

  /**
   * Takes everything queued as the chunk to write.
   *
   * @returns a view of the chunk, or null when nothing is queued
   */
  take(): Uint8Array | null {
    if (this.#inflight !== null) {
      throw new Error("Cannot take outbound chunk: a write is in flight");
    }
    if (this.#len === 0) return null;
    const full = this.#queued;
    this.#inflightBuffer = full;
    this.#inflight = full.subarray(0, this.#len);
    this.#inflightFrames = this.#frames;
    this.#queued = this.#spare ?? new Uint8Array(INITIAL_CAPACITY);
    this.#spare = null;
    this.#len = 0;
    this.#frames = 0;
    return this.#inflight;
  }

  /**
   * The chunk was written completely.
   *
   * @returns frames it held (0 when the queue was cleared meanwhile)
   */
  done(): number {
    const chunk = this.#inflight;
    if (chunk === null) return 0;
    const frames = this.#inflightFrames;
    this.committed += chunk.length;
    const full = this.#inflightBuffer!;
    this.#inflight = null;
    this.#inflightBuffer = null;
    this.#inflightFrames = 0;
    if (full.length <= KEEP_CAPACITY) this.#spare = full;
    return frames;
  }

  /**
   * The write of the chunk failed after `written` bytes: the frames written
   * whole count as done; the rest, from the start of the frame that was cut,
   * goes back to the front of the queue (to be written on a new connection).
   *
   * @param written bytes the failed write had handed to the kernel
   * @returns frames written whole and their bytes
   */
  fail(written: number): { frames: number; bytes: number } {
    const chunk = this.#inflight;
    if (chunk === null) return { frames: 0, bytes: 0 };
    let p = 0;
    let frames = 0;
    while (p + HEADER_SIZE <= chunk.length) {
      const size = HEADER_SIZE + readU32(chunk, p + 24);
      if (p + size > written) break;
      p += size;
      frames++;
    }
    const rest = chunk.subarray(p);
    this.committed += p;
    const merged = new Uint8Array(Math.max(INITIAL_CAPACITY, rest.length + this.#len));
    merged.set(rest, 0);
    merged.set(this.#queued.subarray(0, this.#len), rest.length);
    this.#queued = merged;
    this.#len += rest.length;
    this.#frames += this.#inflightFrames - frames;
    this.#inflight = null;
    this.#inflightBuffer = null;
    this.#inflightFrames = 0;
    return { frames, bytes: p };
  }

  /**
   * Discards what is queued (on close). A chunk being written is left to its
   * write: `done()` or `fail()` settles it, and a later `clear()` discards what
   * `fail()` put back.
   *
   * @returns frames and bytes discarded
   */
  clear(): { frames: number; bytes: number } {
    const gone = { frames: this.#frames, bytes: this.#len };
    this.committed += this.#len;
    this.#len = 0;
    this.#frames = 0;
    this.#queued = new Uint8Array(this.#inflight === null ? 0 : INITIAL_CAPACITY);
    this.#spare = null;
    return gone;
  }

  #grow(need: number): void {
    let size = Math.max(this.#queued.length, INITIAL_CAPACITY);
    while (size < need) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#queued.subarray(0, this.#len));
    this.#queued = grown;
  }
}
