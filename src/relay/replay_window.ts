/**
 * A relay's replay window (PROTOCOL.md 7.9, D-37): its most recently forwarded
 * frames, byte for byte, bounded by frames and bytes.
 *
 * The window shares storage with the consumers' queues: it holds the same runs
 * of frames the fan-out queued (slabs and handed-over read buffers, see
 * slab.ts), one counted reference per run, so keeping a frame costs no copy
 * and a run's bytes return to the pool only when neither a queue nor the
 * window holds them. Pushing and evicting a run are O(1), nothing per frame;
 * the oldest runs are let go while the window is over its bounds (whole runs,
 * so it may hold up to one run less than its bounds). Whether a request starts
 * before what the window still holds is found when it is answered, from how
 * many frames of the source the relay ever put in (its own count) and how many
 * the window holds now.
 *
 * @module
 */

import type { Slab } from "./slab.ts";
import { RangeQueue } from "./range_queue.ts";

/** Bounds of a {@linkcode ReplayWindow}. */
export interface WindowLimits {
  /** Most frames kept. */
  frames: number;
  /** Most bytes kept. */
  bytes: number;
}

/** What {@linkcode ReplayWindow.select} found. */
export interface Selection {
  /** Frames handed to `emit`. */
  frames: number;
  /** Sequence of the first and last frame handed out (0 when none), as decimal-exact numbers or bigints. */
  first: bigint;
  /** Sequence of the last frame handed out. */
  last: bigint;
  /** The oldest retained sequence of the requested source (0 when unknown or any source). */
  windowStart: bigint;
  /** Frames the request asked for were evicted before it came. */
  partial: boolean;
}

/** A request for frames of the window. */
export interface WindowQuery {
  /** Header source wanted (0: any). */
  source: number;
  /** Frames with a sequence above this (0: from the start)… */
  after: bigint;
  /** …up to this one (0: no bound). */
  upTo: bigint;
  /**
   * Frames of each header source ever put into the window (relay-wide counts,
   * indexed by source): what it holds less than these, it has let go.
   */
  added: Float64Array;
  /** The last sequence the relay saw of a source (0: unknown), for a source the window lost whole. */
  lastOf?: (source: number) => bigint;
}

/**
 * The window.
 *
 * @example
 * ```ts
 * import type { Slab } from "./slab.ts";
 *
 * declare const bytes: Uint8Array; // a forwarded run of frames: bytes[at, end)
 * declare const at: number;
 * declare const end: number;
 * declare const frames: number;
 * declare const slab: Slab | null;
 * const added = new Float64Array(256); // frames put in, per header source
 *
 * const w = new ReplayWindow({ frames: 100_000, bytes: 16 << 20 });
 * w.push(bytes, at, end, frames, slab, Date.now()); // after the fan-out
 * w.select({ source: 40, after: 10n, upTo: 0n, added }, () => true, (b, s, e, n, slab) => {});
 * ```
 */
export class ReplayWindow {
  #limits: WindowLimits;
  readonly #runs = new RangeQueue();
  #frames = 0;
  #bytes = 0;
  /** Frames evicted so far. */
  evicted = 0;

  /** @param limits frames and bytes kept */
  constructor(limits: WindowLimits) {
    this.#limits = limits;
  }

  /** Frames held. */
  get frames(): number {
    return this.#frames;
  }

  /** Bytes of frames held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** When the oldest run held was forwarded (ms since epoch), or 0 when empty. */
  get oldest(): number {
    return this.#runs.length === 0 ? 0 : this.#runs.headTag;
  }

  /**
   * Keeps a forwarded run, letting the oldest runs go while over the bounds.
   *
   * @param buf the run's bytes (shared with the queues)
   * @param start first byte
   * @param end end of the run
   * @param frames frames in it
   * @param slab the slab `buf` belongs to (retained here), or null
   * @param now when it was forwarded (ms since epoch)
   */
  push(
    buf: Uint8Array,
    start: number,
    end: number,
    frames: number,
    slab: Slab | null,
    now: number,
  ): void {
    slab?.retain();
    this.#runs.push(buf, start, end, frames, slab, now);
    this.#frames += frames;
    this.#bytes += end - start;
    const l = this.#limits;
    while (this.#runs.length > 1 && (this.#frames > l.frames || this.#bytes > l.bytes)) {
      this.#evictOldest();
    }
  }

  /** Lets every run go. */
  clear(): void {
    while (this.#runs.length > 0) this.#evictOldest();
  }

  /**
   * Changes the bounds (configuration reload), evicting at once if smaller.
   *
   * @param limits the new bounds
   */
  resize(limits: WindowLimits): void {
    this.#limits = limits;
    while (this.#runs.length > 0 && (this.#frames > limits.frames || this.#bytes > limits.bytes)) {
      this.#evictOldest();
    }
  }

  #evictOldest(): void {
    const q = this.#runs;
    this.#frames -= q.headFrames;
    this.#bytes -= q.headEnd - q.headStart;
    this.evicted += q.headFrames;
    q.headSlab?.release();
    q.shift();
  }

  /**
   * Hands out, oldest first, every held frame of the query's source whose
   * sequence is in `(after, upTo]` and that `accept` takes; consecutive frames
   * of a run leave as one range. Frames with sequence 0 (unsequenced) match
   * when the query asks for everything (`after` and `upTo` 0).
   *
   * @param query source and sequence range
   * @param accept the connection's filter, per frame
   * @param emit receives each range (its slab to retain, or null)
   * @returns what was handed out, and whether the start had been evicted
   */
  select(
    query: WindowQuery,
    accept: (b: Uint8Array, s: number, e: number) => boolean,
    emit: (b: Uint8Array, s: number, e: number, frames: number, slab: Slab | null) => void,
  ): Selection {
    const q = this.#runs;
    const all = query.after === 0n && query.upTo === 0n;
    const afterHi = Number(query.after >> 32n);
    const afterLo = Number(query.after & 0xffffffffn);
    const upHi = query.upTo === 0n ? Infinity : Number(query.upTo >> 32n);
    const upLo = query.upTo === 0n ? Infinity : Number(query.upTo & 0xffffffffn);
    let frames = 0;
    let first = 0n;
    let last = 0n;
    // Per source: frames held, and the first held sequence (high word -1: none yet).
    const held = new Float64Array(256);
    const startHi = new Float64Array(256).fill(-1);
    const startLo = new Float64Array(256);
    for (let k = 0; k < q.length; k++) {
      const b = q.bufAt(k);
      const end = q.endAt(k);
      const slab = q.slabAt(k);
      let runStart = -1;
      let runEnd = -1;
      let runFrames = 0;
      for (let off = q.startAt(k); off < end;) {
        const next = frameEnd(b, off);
        const src = b[off + 6]!;
        held[src]!++;
        let take = false;
        if (query.source === 0 || src === query.source) {
          const lo = u32(b, off + 8);
          const hi = u32(b, off + 12);
          if (startHi[src]! < 0 && (hi !== 0 || lo !== 0)) {
            startHi[src] = hi;
            startLo[src] = lo;
          }
          const above = hi > afterHi || (hi === afterHi && lo > afterLo);
          const within = hi < upHi || (hi === upHi && lo <= upLo);
          take = (all || (above && within)) && accept(b, off, next);
          if (take) {
            if (frames === 0) first = seq(hi, lo);
            last = seq(hi, lo);
            frames++;
          }
        }
        if (take) {
          if (runStart < 0) runStart = off;
          runEnd = next;
          runFrames++;
        } else if (runStart >= 0) {
          emit(b, runStart, runEnd, runFrames, slab);
          runStart = -1;
          runFrames = 0;
        }
        off = next;
      }
      if (runStart >= 0) emit(b, runStart, runEnd, runFrames, slab);
    }
    // Partial: a source lost frames to eviction, and what it still holds starts after the
    // first frame asked for (its sequences ran on past `after + 1` before the window starts).
    const from = query.after + 1n;
    const lost = (src: number) => {
      if (query.added[src]! <= held[src]!) return false; // nothing of it was let go
      if (startHi[src]! >= 0) return seq(startHi[src]!, startLo[src]!) > from;
      return (query.lastOf?.(src) ?? 0n) >= from; // all of it was let go
    };
    let partial = false;
    if (query.source !== 0) partial = lost(query.source);
    else for (let src = 0; src < 256 && !partial; src++) partial = lost(src);
    const windowStart = query.source === 0 || startHi[query.source]! < 0
      ? 0n
      : seq(startHi[query.source]!, startLo[query.source]!);
    return { frames, first, last, windowStart, partial };
  }
}

function u32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16)) + b[off + 3]! * 16777216;
}

/** End of the frame starting at `off` (header + payload_size). */
function frameEnd(b: Uint8Array, off: number): number {
  return off + 32 + u32(b, off + 24);
}

function seq(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}
